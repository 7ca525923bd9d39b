#include "authd/smtp_url.h"

#include <arpa/inet.h>
#include <curl/curl.h>

namespace spa::authd {

bool smtp_needs_starttls(const std::string& url) {
  // Read as libcurl will read it: the scheme case-insensitive, or guessed
  // from the host name when there is none ("smtp.example.com:25").
  CURLU* u = curl_url();
  if (!u) return true;
  char* scheme = nullptr;
  char* host = nullptr;
  bool needs = true;  // what cannot be read needs TLS
  if (curl_url_set(u, CURLUPART_URL, url.c_str(), CURLU_GUESS_SCHEME) == CURLUE_OK &&
      curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK && scheme &&
      curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host) {
    std::string h = host;
    in_addr v4;
    bool loopback = h == "localhost" || h == "[::1]" ||
                    (::inet_pton(AF_INET, h.c_str(), &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127);
    needs = std::string(scheme) != "smtps" && !loopback;  // smtps:// is TLS from the start
  }
  curl_free(scheme);
  curl_free(host);
  curl_url_cleanup(u);
  return needs;
}

bool smtp_url_has_password(const std::string& url) {
  if (url.empty()) return false;
  CURLU* u = curl_url();
  if (!u) return false;
  char* password = nullptr;
  bool has = curl_url_set(u, CURLUPART_URL, url.c_str(), CURLU_GUESS_SCHEME) == CURLUE_OK &&
             curl_url_get(u, CURLUPART_PASSWORD, &password, 0) == CURLUE_OK && password;
  curl_free(password);
  curl_url_cleanup(u);
  return has;
}

}  // namespace spa::authd
