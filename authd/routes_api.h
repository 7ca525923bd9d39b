// What every route handler of spa-authd shares (authd/routes_*.cc): the
// services it calls, and reading a request (cookies, bearer token, JSON
// body, fields, Origin) and answering one (an Outcome as the envelope,
// token cookies, the OAuth redirects). Internal to the routes; the table
// of routes is authd/routes.cc.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "authd/auth_service.h"
#include "authd/config.h"
#include "authd/http_message.h"
#include "authd/oauth.h"
#include "authd/service_types.h"

namespace spa::authd::routes {

// The longest value each request field may have, named once for every
// route that reads it (RFC 5321's 254 for an address; a password past 512
// bytes is refused before Argon2 sees it; our tokens are 43 to 64 bytes).
inline constexpr size_t kMaxEmail = 254;
inline constexpr size_t kMaxPassword = 512;
inline constexpr size_t kMaxToken = 128;

using http::Request;
using http::Response;

inline constexpr const char* kAccessCookie = "__Host-spa_at";
inline constexpr const char* kRefreshCookie = "__Secure-spa_rt";
// Binds an OAuth login under way to the browser that started it. Lax, not
// Strict: the provider's redirect back is a cross-site navigation.
inline constexpr const char* kOAuthCookie = "__Secure-spa_oauth";

// Stored with the session and shown back: valid UTF-8, bounded, cut at a
// character (core/utf8.h), whatever bytes the client sent.
ClientInfo client_of(const Request& req);
// A query parameter, or "" when absent or longer than `max`.
std::string param(const Request& req, const char* name, size_t max);

class Api {
 public:
  Api(AuthService& services, OAuthLogin& oauth, const Config& config,
      std::vector<std::function<std::string()>> metric_sources)
      : accounts(services),
        sessions(services),
        factors(services),
        credentials(services),
        identities(services),
        privacy(services),
        admin(services),
        oauth(oauth),
        config(config),
        metric_sources(std::move(metric_sources)) {}

  // An Outcome as the response: the envelope, Cache-Control, cookies
  // (set or cleared), Retry-After and WWW-Authenticate.
  void send(const Request& req, Response& res, const Outcome& o);

  // A cookie's value ("" when absent), or nullopt with the answer sent
  // (400 duplicate_cookie: the name came twice).
  std::optional<std::string> cookie(const Request& req, Response& res, const char* name);
  // A JSON object body, or an answer already sent.
  std::optional<nlohmann::json> body(const Request& req, Response& res);
  // A string field; answers 400 itself when it is missing or not a string.
  std::optional<std::string> field(const Request& req, Response& res, const nlohmann::json& j, const char* name,
                                   size_t max = 1024);
  // Cross-site requests that would ride on our cookies are refused: an
  // unsafe request must come from an allowed Origin, and must name one at
  // all when it carries our cookies.
  bool origin_ok(const Request& req, Response& res);
  // The refresh token from the cookie, or from {"refresh_token"} in the
  // body; nullopt when an answer was already sent.
  std::optional<std::string> refresh_token(const Request& req, Response& res);
  // The caller, from the bearer token or the access cookie; 401 sent when
  // there is none or it does not pass.
  std::optional<Principal> principal(const Request& req, Response& res);
  // The caller if signed in (`who` stays empty otherwise); false when an
  // answer was already sent (a duplicate cookie).
  bool maybe_principal(const Request& req, Response& res, std::optional<Principal>& who);
  // An unsafe request's JSON body, its Origin checked first; nullopt when
  // an answer was already sent.
  std::optional<nlohmann::json> posted_body(const Request& req, Response& res);
  // An unsafe request of a signed-in user with a JSON body: Origin, token
  // and body checked; nullopt when an answer was already sent.
  std::optional<std::pair<Principal, nlohmann::json>> signed_in_body(const Request& req, Response& res);
  // signed_in_body, then its one string field `name`.
  std::optional<std::pair<Principal, std::string>> signed_in_field(const Request& req, Response& res,
                                                                   const char* name, size_t max);

  // A browser redirect from the OAuth flow, or the JSON error it carries.
  void redirect(const Request& req, Response& res, const OAuthAnswer& a);
  void set_binding_cookie(Response& res, const std::string& value);

  AccountService& accounts;
  SessionService& sessions;
  SecondFactorService& factors;
  CredentialService& credentials;
  IdentityService& identities;
  PrivacyService& privacy;
  AdminService& admin;
  OAuthLogin& oauth;
  const Config& config;
  std::vector<std::function<std::string()>> metric_sources;  // /metrics, in order

 private:
  // The access token from Authorization: Bearer, else the cookie ("" when
  // neither); nullopt with the answer sent (a duplicate cookie).
  std::optional<std::string> access_token(const Request& req, Response& res);
  void set_token_cookies(Response& res, const IssuedTokens& t);
  void clear_cookies(Response& res);
};

// A route's work: read `req` through `api`, call one service, answer.
using Handler = void (*)(Api& api, const Request& req, Response& res);

// The handlers, by feature; the table that routes requests to them is
// authd/routes.cc.
namespace accounts {  // authd/routes_accounts.cc
void signup(Api&, const Request&, Response&);
void me(Api&, const Request&, Response&);
void verify_email_request(Api&, const Request&, Response&);
void verify_email_confirm(Api&, const Request&, Response&);
void export_data(Api&, const Request&, Response&);
void delete_account(Api&, const Request&, Response&);
}  // namespace accounts
namespace sessions {  // authd/routes_sessions.cc
void login(Api&, const Request&, Response&);
void refresh(Api&, const Request&, Response&);
void logout(Api&, const Request&, Response&);
void verify(Api&, const Request&, Response&);
void list(Api&, const Request&, Response&);
void revoke(Api&, const Request&, Response&);
}  // namespace sessions
namespace credentials {  // authd/routes_credentials.cc
void reset_request(Api&, const Request&, Response&);
void reset_confirm(Api&, const Request&, Response&);
void reauthenticate(Api&, const Request&, Response&);
void change_password(Api&, const Request&, Response&);
}  // namespace credentials
namespace mfa {  // authd/routes_mfa.cc
void setup(Api&, const Request&, Response&);
void email_code(Api&, const Request&, Response&);
void status(Api&, const Request&, Response&);
void enable(Api&, const Request&, Response&);
void disable(Api&, const Request&, Response&);
void backup_codes(Api&, const Request&, Response&);
void verify(Api&, const Request&, Response&);
void verify_backup(Api&, const Request&, Response&);
}  // namespace mfa
namespace oauth {  // authd/routes_oauth.cc
void providers(Api&, const Request&, Response&);
void start(Api&, const Request&, Response&);
void callback(Api&, const Request&, Response&);
void link(Api&, const Request&, Response&);
void unlink(Api&, const Request&, Response&);
}  // namespace oauth
namespace admin {  // authd/routes_admin.cc
void list_users(Api&, const Request&, Response&);
void update_user(Api&, const Request&, Response&);
}  // namespace admin

}  // namespace spa::authd::routes
