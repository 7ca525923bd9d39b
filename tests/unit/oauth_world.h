// An OpenID provider answered in process (FakeProvider: discovery, keys,
// token and userinfo endpoints, a code per approved login, hangs on
// demand) and a whole spa-authd around OAuthLogin with a fake clock
// (OAuthWorld), for tests/unit/test_oidc.cc, test_oauth_login.cc and
// test_oauth_accounts.cc.
#pragma once

#include <optional>

#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "authd/files.h"
#include "authd/http_client.h"
#include "authd/oauth.h"
#include "authd/oidc.h"
#include "tests/unit/auth_world.h"
#include "tests/unit/helpers.h"

namespace test {

using json = nlohmann::json;
using spa::authd::HttpResult;
using spa::core::Alg;
using spa::core::KeyKind;

inline constexpr const char* kIssuer = "https://idp.example.com";

inline json discovery_doc() {
  return {{"issuer", kIssuer},
          {"authorization_endpoint", "https://idp.example.com/auth"},
          {"token_endpoint", "https://idp.example.com/token"},
          {"userinfo_endpoint", "https://idp.example.com/me"},
          {"jwks_uri", "https://idp.example.com/jwks"},
          {"response_types_supported", {"code"}},
          {"code_challenge_methods_supported", {"S256"}},
          {"id_token_signing_alg_values_supported", {"RS256", "EdDSA"}},
          {"token_endpoint_auth_methods_supported", {"client_secret_post"}},
          {"authorization_response_iss_parameter_supported", true}};
}

// A parameter of a URL's query or fragment, undecoded; "" when absent.
inline std::string query_param(const std::string& url, const std::string& name) {
  size_t q = url.find_first_of("?#");
  if (q == std::string::npos) return {};
  std::string rest = "&" + url.substr(q + 1);
  size_t at = rest.find("&" + name + "=");
  if (at == std::string::npos) return {};
  at += name.size() + 2;
  return rest.substr(at, rest.find('&', at) - at);
}

struct FakeProvider final : spa::authd::HttpClient {
  spa::core::JwkPtr key = make_key(KeyKind::kRsa);
  int64_t* now = nullptr;
  bool down = false;
  int jwks_fetches = 0;
  std::string subject = "alice", email = "alice@example.com";
  bool email_verified = true;
  struct Grant {
    std::string nonce, challenge;
  };
  std::map<std::string, Grant> codes;
  std::vector<std::string> seen_forms;
  int discovery_fetches = 0;

  // A provider that hangs: a call to a URL ending in `suffix` waits until
  // release(), before it touches anything above.
  void hang(const std::string& suffix) {
    std::lock_guard<std::mutex> l(hang_mu);
    hang_suffix = suffix;
    released = false;
  }
  void wait_hanging(int n) {
    std::unique_lock<std::mutex> l(hang_mu);
    hang_cv.wait(l, [&] { return hanging >= n; });
  }
  void release() {
    std::lock_guard<std::mutex> l(hang_mu);
    released = true;
    hang_suffix.clear();
    hang_cv.notify_all();
  }
  void maybe_hang(const std::string& url) {
    std::unique_lock<std::mutex> l(hang_mu);
    if (hang_suffix.empty() || url.size() < hang_suffix.size() ||
        url.compare(url.size() - hang_suffix.size(), hang_suffix.size(), hang_suffix) != 0)
      return;
    ++hanging;
    hang_cv.notify_all();
    hang_cv.wait(l, [&] { return released; });
    --hanging;
  }
  std::mutex hang_mu;
  std::condition_variable hang_cv;
  std::string hang_suffix;
  int hanging = 0;
  // A broken endpoint: the answer given for a URL ending in the key.
  std::map<std::string, spa::authd::HttpResult> broken;
  std::optional<spa::authd::HttpResult> broken_answer(const std::string& url) const {
    for (const auto& [suffix, r] : broken)
      if (url.size() >= suffix.size() && url.compare(url.size() - suffix.size(), suffix.size(), suffix) == 0) return r;
    return std::nullopt;
  }
  bool released = false;

  HttpResult get(const std::string& url, const std::vector<std::string>& headers) override {
    maybe_hang(url);
    if (down) return {0, "", "Couldn't connect to server"};
    if (auto b = broken_answer(url)) return *b;
    if (url == std::string(kIssuer) + "/.well-known/openid-configuration") {
      ++discovery_fetches;
      return {200, discovery_doc().dump(), ""};
    }
    if (url == std::string(kIssuer) + "/jwks") {
      ++jwks_fetches;
      return {200, json{{"keys", {spa::core::jwk_public_json(*key)}}}.dump(), ""};
    }
    if (url == std::string(kIssuer) + "/me") {
      if (headers.empty() || headers[0] != "Authorization: Bearer at-1") return {401, "", ""};
      return {200, json{{"sub", subject}, {"email", email}, {"email_verified", email_verified}}.dump(), ""};
    }
    return {404, "", ""};
  }
  HttpResult post_form(const std::string& url, const std::string& form, const std::vector<std::string>&) override {
    maybe_hang(url);
    if (down) return {0, "", "Couldn't connect to server"};
    if (auto b = broken_answer(url)) return *b;
    seen_forms.push_back(form);
    std::string code = query_param("?" + form, "code");
    auto it = codes.find(code);
    if (url != std::string(kIssuer) + "/token" || it == codes.end() ||
        spa::authd::oidc::pkce_challenge(query_param("?" + form, "code_verifier")) != it->second.challenge ||
        query_param("?" + form, "client_secret") != "s3cret")
      return {400, R"({"error":"invalid_grant"})", ""};
    json claims = {{"iss", kIssuer}, {"aud", "client-1"}, {"sub", subject}, {"nonce", it->second.nonce},
                   {"iat", *now},    {"exp", *now + 300}};
    codes.erase(it);  // single use, as at a real provider
    return {200, json{{"access_token", "at-1"}, {"token_type", "Bearer"}, {"id_token", mint(*key, Alg::kRS256, claims)}}.dump(), ""};
  }
  // What the provider does when the user signs in: a code for this request.
  std::string approve(const std::string& authorization_url) {
    std::string code = "code-" + std::to_string(codes.size() + seen_forms.size());
    codes[code] = {query_param(authorization_url, "nonce"), query_param(authorization_url, "code_challenge")};
    return code;
  }
};

struct OAuthWorld : AuthWorld {
  FakeProvider idp;
  std::unique_ptr<spa::authd::OAuthLogin> oauth;
  explicit OAuthWorld(uint32_t calls_per_provider = 16) {
    idp.now = &now;
    config.oauth_calls_per_provider = calls_per_provider;
    spa::authd::OAuthProviderConfig p;
    p.name = "corp";
    p.client_id = "client-1";
    p.client_secret_file = dir + "/secret";
    p.redirect_uri = "https://app.example.com/api/v1/oauth/corp/callback";
    p.discovery = std::string(kIssuer) + "/.well-known/openid-configuration";
    config.oauth.push_back(p);
    std::string err;
    ck_assert(spa::authd::write_file_atomic(p.client_secret_file, "s3cret\n", 0600, err));
    oauth = std::make_unique<spa::authd::OAuthLogin>(config, *service, store, idp, [this] { return now; });
    ck_assert_msg(oauth->load_secrets(err), "%s", err.c_str());
  }
  // start → provider → callback; returns the callback's answer.
  spa::authd::OAuthAnswer login(const std::string& redirect_to = "") {
    spa::authd::OAuthAnswer a = oauth->start("corp", redirect_to, client);
    ck_assert_msg(!a.error && !a.binding.empty(), "start failed: %s", a.location.c_str());
    last_state = query_param(a.location, "state");
    last_binding = a.binding;
    return oauth->callback("corp", {idp.approve(a.location), last_state, "", kIssuer}, a.binding, client);
  }
  std::string last_state, last_binding;
};

}  // namespace test
