#include "authd/mailer.h"

#include <curl/curl.h>

#include <cstring>
#include <ctime>
#include <memory>

#include "authd/crypto.h"
#include "authd/curl_handles.h"
#include "authd/server.h"

namespace spa::authd {
namespace {


bool header_safe(const std::string& s) { return s.find_first_of("\r\n") == std::string::npos; }

std::string rfc5322_date() {
  char buf[64];
  std::time_t t = std::time(nullptr);
  std::tm tm;
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  return buf;
}

struct Upload {
  std::string data;
  size_t offset = 0;
};

size_t read_upload(char* buffer, size_t size, size_t nitems, void* userdata) {
  auto* u = static_cast<Upload*>(userdata);
  size_t n = std::min(size * nitems, u->data.size() - u->offset);
  std::memcpy(buffer, u->data.data() + u->offset, n);
  u->offset += n;
  return n;
}

}  // namespace

Mailer::Mailer(std::string url, std::string from) : url_(std::move(url)), from_(std::move(from)) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  worker_ = std::thread([this] { run(); });
}

Mailer::~Mailer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  worker_.join();
}

bool Mailer::send(const std::string& to, const std::string& subject, const std::string& body, MailClass cls) {
  if (!header_safe(to) || !header_safe(subject)) return false;
  std::lock_guard<std::mutex> lock(mu_);
  size_t c = static_cast<size_t>(cls);
  if (queued_[c] >= kRoom[c]) return false;
  ++queued_[c];
  queue_.push_back({to, subject, body, cls});
  cv_.notify_one();
  return true;
}

void Mailer::run() {
  for (;;) {
    Message m;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, nothing left
      m = std::move(queue_.front());
      queue_.pop_front();
      --queued_[static_cast<size_t>(m.cls)];
    }
    deliver(m);
  }
}

bool Mailer::deliver(const Message& m) {
  if (url_.empty()) {
    log_event("warn", "mail_not_sent", {{"reason", "[smtp] url is not set"}});
    return false;
  }
  CurlPtr curl(curl_easy_init());
  SlistPtr rcpt(curl_slist_append(nullptr, ("<" + m.to + ">").c_str()));
  if (!curl || !rcpt) return false;
  Upload upload;
  upload.data = "Date: " + rfc5322_date() + "\r\nFrom: " + from_ + "\r\nTo: " + m.to + "\r\nSubject: " + m.subject +
                "\r\nMessage-ID: <" + random_hex_id() + "@spa-authd>\r\nMIME-Version: 1.0\r\n"
                "Content-Type: text/plain; charset=utf-8\r\n\r\n" + m.body + "\r\n";
  curl_easy_setopt(curl.get(), CURLOPT_URL, url_.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_MAIL_FROM, ("<" + from_ + ">").c_str());
  curl_easy_setopt(curl.get(), CURLOPT_MAIL_RCPT, rcpt.get());
  curl_easy_setopt(curl.get(), CURLOPT_READFUNCTION, read_upload);
  curl_easy_setopt(curl.get(), CURLOPT_READDATA, &upload);
  curl_easy_setopt(curl.get(), CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT, 30L);
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  CURLcode rc = curl_easy_perform(curl.get());
  if (rc != CURLE_OK) {
    // The address and body stay out of the log: they hold a reset link.
    log_event("error", "mail_failed", {{"reason", curl_easy_strerror(rc)}});
    return false;
  }
  log_event("info", "mail_sent", {});
  return true;
}

}  // namespace spa::authd
