// Outgoing HTTPS for spa-authd (OAuth/OIDC): libcurl with TLS verification
// on, no redirects followed, short timeouts and a bound on the response
// size. An interface, so unit tests can answer for the provider.
#pragma once

#include <string>
#include <vector>

namespace spa::authd {

struct HttpResult {
  long status = 0;     // 0 when no HTTP answer arrived
  std::string body;
  std::string error;   // transport error ("" when an answer arrived)
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // `headers`: "Name: value" lines.
  virtual HttpResult get(const std::string& url, const std::vector<std::string>& headers) = 0;
  // An application/x-www-form-urlencoded POST.
  virtual HttpResult post_form(const std::string& url, const std::string& form,
                               const std::vector<std::string>& headers) = 0;
};

class CurlHttpClient : public HttpClient {
 public:
  struct Limits {
    long connect_timeout_ms = 3000;
    long total_timeout_ms = 5000;  // main.cc: [oauth] call_timeout
    size_t max_body_bytes = 256 * 1024;
  };
  CurlHttpClient();
  explicit CurlHttpClient(Limits limits);
  HttpResult get(const std::string& url, const std::vector<std::string>& headers) override;
  HttpResult post_form(const std::string& url, const std::string& form,
                       const std::vector<std::string>& headers) override;

 private:
  HttpResult perform(const std::string& url, const std::string* form, const std::vector<std::string>& headers);
  Limits limits_;
};

}  // namespace spa::authd
