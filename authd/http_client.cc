#include "authd/http_client.h"

#include "authd/curl_handles.h"
#include "authd/oidc.h"

namespace spa::authd {
namespace {

struct Sink {
  std::string* body;
  size_t max;
  bool too_big = false;
};

size_t write_body(char* data, size_t size, size_t n, void* userdata) {
  auto* sink = static_cast<Sink*>(userdata);
  size_t bytes = size * n;
  if (sink->body->size() + bytes > sink->max) {
    sink->too_big = true;
    return 0;  // curl stops with CURLE_WRITE_ERROR
  }
  sink->body->append(data, bytes);
  return bytes;
}

}  // namespace

CurlHttpClient::CurlHttpClient() : CurlHttpClient(Limits{}) {}
CurlHttpClient::CurlHttpClient(Limits limits) : limits_(limits) {}

HttpResult CurlHttpClient::get(const std::string& url, const std::vector<std::string>& headers) {
  return perform(url, nullptr, headers);
}

HttpResult CurlHttpClient::post_form(const std::string& url, const std::string& form,
                                     const std::vector<std::string>& headers) {
  return perform(url, &form, headers);
}

HttpResult CurlHttpClient::perform(const std::string& url, const std::string* form,
                                   const std::vector<std::string>& headers) {
  HttpResult r;
  // Plain http only to loopback, checked here as well as in the config:
  // nothing reaches curl that would send a secret in the clear.
  if (!oidc::url_allowed(url)) {
    r.error = "URL not allowed";
    return r;
  }
  CurlPtr curl(curl_easy_init());
  if (!curl) {
    r.error = "curl_easy_init failed";
    return r;
  }
  SlistPtr list;
  std::vector<std::string> lines = headers;
  if (form) lines.push_back("Content-Type: application/x-www-form-urlencoded");
  lines.push_back("Accept: application/json");
  for (const auto& h : lines) {
    curl_slist* next = curl_slist_append(list.get(), h.c_str());  // the same head, or NULL
    if (!next) {
      r.error = "out of memory";
      return r;
    }
    (void)list.release();
    list.reset(next);
  }

  Sink sink{&r.body, limits_.max_body_bytes};
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, limits_.connect_timeout_ms);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, limits_.total_timeout_ms);
  curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(limits_.max_body_bytes));
  curl_easy_setopt(c, CURLOPT_USERAGENT, "spa-authd");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list.get());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
  if (form) {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, form->c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(form->size()));
  }
  CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) {
    r.error = sink.too_big || rc == CURLE_FILESIZE_EXCEEDED ? "response too large" : curl_easy_strerror(rc);
    r.body.clear();
    return r;
  }
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  return r;
}

}  // namespace spa::authd
