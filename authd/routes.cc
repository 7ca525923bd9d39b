#include "authd/routes.h"

#include <algorithm>
#include <ctime>

#include "core/cookies.h"
#include "core/envelope.h"
#include "core/json_strict.h"
#include "core/utf8.h"

namespace spa::authd {
namespace {

using json = nlohmann::json;
using http::Request;
using http::Response;

constexpr const char* kAccessCookie = "__Host-spa_at";
constexpr const char* kRefreshCookie = "__Secure-spa_rt";
// Binds an OAuth login under way to the browser that started it. Lax, not
// Strict: the provider's redirect back is a cross-site navigation.
constexpr const char* kOAuthCookie = "__Secure-spa_oauth";

int64_t unix_now() { return static_cast<int64_t>(std::time(nullptr)); }

// core/cookies.h: the same reading of the Cookie header as the module's.
// "" when absent; nullopt when the name is carried more than once (a
// sibling host can plant a `__Secure-` cookie with Domain= beside ours):
// the caller refuses, it never picks one.
std::optional<std::string> read_cookie(const Request& req, std::string_view name) {
  std::vector<std::string> lines;
  for (size_t i = 0; i < req.get_header_value_count("Cookie"); ++i) lines.push_back(req.get_header_value("Cookie", i));
  auto c = core::lookup_cookie(std::vector<std::string_view>(lines.begin(), lines.end()), name);
  if (c.duplicate()) return std::nullopt;
  return c.value ? std::string(*c.value) : std::string();
}

std::string bearer(const Request& req) {
  std::string h = req.get_header_value("Authorization");
  if (h.size() > 7 && strncasecmp(h.c_str(), "bearer ", 7) == 0) return h.substr(7);
  return {};
}

// Stored with the session and shown back: valid UTF-8, bounded, cut at a
// character (core/utf8.h), whatever bytes the client sent.
ClientInfo client_of(const Request& req) {
  return {AuthServer::request_id(req), core::utf8_clip(req.get_header_value("X-Real-IP"), ClientInfo::kMaxIpBytes),
          core::utf8_clip(req.get_header_value("User-Agent"), ClientInfo::kMaxUserAgentBytes)};
}

bool unsafe(const Request& req) { return req.method != "GET" && req.method != "HEAD" && req.method != "OPTIONS"; }

class Api {
 public:
  Api(AuthService& s, const Config& c) : service_(s), config_(c) {}

  void send(const Request& req, Response& res, const Outcome& o) {
    res.set_header("Cache-Control", "no-store");
    if (o.end_session) clear_cookies(res);
    if (!o.ok()) {
      if (o.retry_after > 0) res.set_header("Retry-After", std::to_string(o.retry_after));
      if (o.max_age > 0) {
        // RFC 9470 §3: step up, with the largest authentication age accepted.
        std::string age = std::to_string(o.max_age);
        res.set_header("WWW-Authenticate", "Bearer realm=\"spa\", error=\"insufficient_user_authentication\", "
                                           "error_description=\"a more recent authentication is required\", max_age=" + age);
        return AuthServer::send_error(req, res, o.status, o.code, o.message, {{"max_age", o.max_age}});
      }
      if (o.status == 401) res.set_header("WWW-Authenticate", "Bearer realm=\"spa\"");
      return AuthServer::send_error(req, res, o.status, o.code, o.message);
    }
    json data = o.data;
    if (o.tokens) {
      if (config_.mode != TokenMode::kBearer) set_token_cookies(res, *o.tokens);
      if (config_.mode != TokenMode::kCookie) {
        data["access_token"] = o.tokens->access_token;
        data["refresh_token"] = o.tokens->refresh_token;
        data["token_type"] = "Bearer";
      }
      data["expires_in"] = o.tokens->expires_in;
    }
    res.status = o.status;
    res.set_content(core::success_envelope(data, AuthServer::request_id(req), unix_now()) + "\n", "application/json");
  }

  // A cookie's value ("" when absent), or nullopt with the answer sent
  // (400 duplicate_cookie: the name came twice).
  std::optional<std::string> cookie(const Request& req, Response& res, const char* name) {
    auto value = read_cookie(req, name);
    if (!value)
      send(req, res, Outcome::error(400, "duplicate_cookie", std::string("the cookie ") + name + " was sent more than once"));
    return value;
  }

  // A JSON object body, or an answer already sent.
  std::optional<json> body(const Request& req, Response& res) {
    json j;
    std::string err;
    if (!core::parse_json_strict(req.body, j, err, core::JsonLimits{64 * 1024, 8}) || !j.is_object()) {
      send(req, res, Outcome::error(400, "invalid_request", "body must be a JSON object"));
      return std::nullopt;
    }
    return j;
  }

  // A string field; answers 400 itself when it is missing or not a string.
  std::optional<std::string> field(const Request& req, Response& res, const json& j, const char* name,
                                   size_t max = 1024) {
    auto it = j.find(name);
    if (it == j.end() || !it->is_string()) {
      send(req, res, Outcome::error(400, "validation_failed", std::string(name) + " must be a string"));
      return std::nullopt;
    }
    const auto& s = it->get_ref<const std::string&>();
    if (s.size() > max) {
      send(req, res, Outcome::error(400, "validation_failed", std::string(name) + " is too long"));
      return std::nullopt;
    }
    return s;
  }

  // Cross-site requests that would ride on our cookies are refused: an
  // unsafe request must come from an allowed Origin, and must name one at
  // all when it carries our cookies.
  bool origin_ok(const Request& req, Response& res) {
    if (!unsafe(req)) return true;
    std::string origin = req.get_header_value("Origin");
    auto access = read_cookie(req, kAccessCookie), refresh = read_cookie(req, kRefreshCookie);
    bool cookies = !access || !refresh || !access->empty() || !refresh->empty();
    if (origin.empty() && !cookies) return true;
    for (const auto& allowed : config_.allowed_origins)
      if (origin == allowed) return true;
    send(req, res, Outcome::error(403, "origin_not_allowed", "request origin is not allowed"));
    return false;
  }

  // The refresh token from the cookie, or from {"refresh_token"} in the
  // body; nullopt when an answer was already sent.
  std::optional<std::string> refresh_token(const Request& req, Response& res) {
    auto token = cookie(req, res, kRefreshCookie);
    if (!token || req.body.empty()) return token;
    auto j = body(req, res);
    if (!j) return std::nullopt;
    if (!j->contains("refresh_token")) return token;
    return field(req, res, *j, "refresh_token", 128);
  }

  // An unsafe request of a signed-in user with a JSON body: Origin, token
  // and body checked; nullopt when an answer was already sent.
  std::optional<std::pair<Principal, json>> signed_in_body(const Request& req, Response& res) {
    if (!origin_ok(req, res)) return std::nullopt;
    auto who = principal(req, res);
    if (!who) return std::nullopt;
    auto j = body(req, res);
    if (!j) return std::nullopt;
    return std::make_pair(std::move(*who), std::move(*j));
  }

  std::optional<Principal> principal(const Request& req, Response& res) {
    std::string token = bearer(req);
    if (token.empty()) {
      auto c = cookie(req, res, kAccessCookie);
      if (!c) return std::nullopt;
      token = *c;
    }
    std::string why;
    auto who = token.empty() ? std::nullopt : service_.authenticate(token, why);
    if (!who) send(req, res, Outcome::error(401, "invalid_token", token.empty() ? "no access token" : "access token is not valid"));
    return who;
  }

  void set_token_cookies(Response& res, const IssuedTokens& t) {
    res.set_header("Set-Cookie", std::string(kAccessCookie) + "=" + t.access_token +
                                     "; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=" +
                                     std::to_string(config_.access_ttl));
    res.set_header("Set-Cookie", std::string(kRefreshCookie) + "=" + t.refresh_token +
                                     "; Path=/api/v1/auth; Secure; HttpOnly; SameSite=Strict; Max-Age=" +
                                     std::to_string(config_.refresh_ttl));
  }

  void clear_cookies(Response& res) {
    if (config_.mode == TokenMode::kBearer) return;
    res.set_header("Set-Cookie", std::string(kAccessCookie) + "=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0");
    res.set_header("Set-Cookie",
                   std::string(kRefreshCookie) + "=; Path=/api/v1/auth; Secure; HttpOnly; SameSite=Strict; Max-Age=0");
  }

  // A browser redirect from the OAuth flow, or the JSON error it carries.
  void redirect(const Request& req, Response& res, const OAuthAnswer& a) {
    if (a.error) return send(req, res, *a.error);
    res.status = 303;
    res.set_header("Location", a.location);
    res.set_header("Cache-Control", "no-store");
    res.set_header("Referrer-Policy", "no-referrer");
    if (!a.binding.empty()) set_binding_cookie(res, a.binding);
    else if (a.clear_binding) set_binding_cookie(res, "");
    // Cookies in every token mode: a redirect has no body to carry tokens;
    // a bearer-mode SPA trades the refresh cookie for a pair at /refresh.
    if (a.tokens) set_token_cookies(res, *a.tokens);
  }

  void set_binding_cookie(Response& res, const std::string& value) {
    res.set_header("Set-Cookie", std::string(kOAuthCookie) + "=" + value +
                                     "; Path=/api/v1/oauth; Secure; HttpOnly; SameSite=Lax; Max-Age=" +
                                     (value.empty() ? "0" : std::to_string(OAuthLogin::kStateTtl)));
  }

  AuthService& service_;
  const Config& config_;
};

// A query parameter, or "" when absent or longer than `max`.
std::string param(const Request& req, const char* name, size_t max) {
  std::string v = req.get_param_value(name);
  return v.size() <= max ? v : std::string();
}

}  // namespace

void register_auth_routes(AuthServer& server, AuthService& service, OAuthLogin& oauth, const Config& config) {
  auto api = std::make_shared<Api>(service, config);
  auto& http = server.http();

  http.Post("/api/v1/auth/signup", [api](const Request& req, Response& res) {
    if (!api->origin_ok(req, res)) return;
    auto j = api->body(req, res);
    if (!j) return;
    auto email = api->field(req, res, *j, "email", 254);
    if (!email) return;
    auto username = api->field(req, res, *j, "username", 64);
    if (!username) return;
    auto password = api->field(req, res, *j, "password", 512);
    if (!password) return;
    api->send(req, res, api->service_.signup(*email, *username, *password, client_of(req)));
  });

  http.Post("/api/v1/auth/login", [api](const Request& req, Response& res) {
    if (!api->origin_ok(req, res)) return;
    auto j = api->body(req, res);
    if (!j) return;
    auto email = api->field(req, res, *j, "email", 254);
    if (!email) return;
    auto password = api->field(req, res, *j, "password", 512);
    if (!password) return;
    api->send(req, res, api->service_.login(*email, *password, client_of(req)));
  });

  http.Post("/api/v1/auth/refresh", [api](const Request& req, Response& res) {
    if (!api->origin_ok(req, res)) return;
    auto token = api->refresh_token(req, res);
    if (token) api->send(req, res, api->service_.refresh(*token, client_of(req)));
  });

  http.Post("/api/v1/auth/logout", [api](const Request& req, Response& res) {
    if (!api->origin_ok(req, res)) return;
    std::string token = bearer(req);
    if (token.empty()) {
      auto c = api->cookie(req, res, kAccessCookie);
      if (!c) return;
      token = *c;
    }
    std::string why;
    auto who = token.empty() ? std::nullopt : api->service_.authenticate(token, why);
    auto refresh = api->refresh_token(req, res);
    if (refresh) api->send(req, res, api->service_.logout(who, *refresh, client_of(req)));
  });

  http.Get("/api/v1/auth/me", [api](const Request& req, Response& res) {
    if (auto who = api->principal(req, res)) api->send(req, res, api->service_.me(*who));
  });

  http.Get("/api/v1/auth/sessions", [api](const Request& req, Response& res) {
    if (auto who = api->principal(req, res)) api->send(req, res, api->service_.list_sessions(*who));
  });

  http.Post("/api/v1/auth/password-reset/request", [api](const Request& req, Response& res) {
    if (!api->origin_ok(req, res)) return;
    auto j = api->body(req, res);
    if (!j) return;
    auto email = api->field(req, res, *j, "email", 254);
    if (email) api->send(req, res, api->service_.password_reset_request(*email, client_of(req)));
  });
  http.Post("/api/v1/auth/password-reset/confirm", [api](const Request& req, Response& res) {
    if (!api->origin_ok(req, res)) return;
    auto j = api->body(req, res);
    if (!j) return;
    auto token = api->field(req, res, *j, "token", 128);
    if (!token) return;
    auto password = api->field(req, res, *j, "password", 512);
    if (password) api->send(req, res, api->service_.password_reset_confirm(*token, *password, client_of(req)));
  });

  // --- e-mail verification, re-authentication, password change
  http.Post("/api/v1/auth/verify-email/request", [api](const Request& req, Response& res) {
    if (!api->origin_ok(req, res)) return;
    auto j = api->body(req, res);
    if (!j) return;
    auto email = api->field(req, res, *j, "email", 254);
    if (email) api->send(req, res, api->service_.verify_email_request(*email, client_of(req)));
  });
  http.Post("/api/v1/auth/verify-email/confirm", [api](const Request& req, Response& res) {
    if (!api->origin_ok(req, res)) return;
    auto j = api->body(req, res);
    if (!j) return;
    auto token = api->field(req, res, *j, "token", 128);
    if (!token) return;
    auto password = j->contains("password") ? api->field(req, res, *j, "password", 512) : std::string();
    if (!password) return;
    // Signed in (an account without a password, its owner in the SPA)?
    std::string access = bearer(req);
    if (access.empty()) {
      auto c = api->cookie(req, res, kAccessCookie);
      if (!c) return;
      access = *c;
    }
    std::string why;
    auto who = access.empty() ? std::nullopt : api->service_.authenticate(access, why);
    api->send(req, res, api->service_.verify_email_confirm(*token, *password, client_of(req), who ? &*who : nullptr));
  });
  // {password} or {code} (TOTP or e-mailed) or {backup_code}.
  http.Post("/api/v1/auth/reauthenticate", [api](const Request& req, Response& res) {
    auto call = api->signed_in_body(req, res);
    if (!call) return;
    auto& [who, j] = *call;
    std::optional<std::string> password = std::string(), code = std::string();
    bool backup = j.contains("backup_code");
    if (j.contains("password")) password = api->field(req, res, j, "password", 512);
    else if (backup) code = api->field(req, res, j, "backup_code", 32);
    else if (j.contains("code")) code = api->field(req, res, j, "code", 32);
    else return api->send(req, res, Outcome::error(400, "validation_failed", "give password, code or backup_code"));
    if (!password || !code) return;
    if (password->empty() && code->empty())
      return api->send(req, res, Outcome::error(400, "validation_failed", "password or code must not be empty"));
    api->send(req, res, api->service_.reauthenticate(who, *password, *code, backup, client_of(req)));
  });
  http.Post("/api/v1/auth/password", [api](const Request& req, Response& res) {
    auto call = api->signed_in_body(req, res);
    if (!call) return;
    auto& [who, j] = *call;
    auto password = api->field(req, res, j, "password", 512);
    if (password) api->send(req, res, api->service_.change_password(who, *password, client_of(req)));
  });

  // --- second factor
  http.Post("/api/v1/mfa/setup", [api](const Request& req, Response& res) {
    if (!api->origin_ok(req, res)) return;
    auto who = api->principal(req, res);
    if (!who) return;
    std::string method = "totp";
    if (!req.body.empty()) {
      auto j = api->body(req, res);
      if (!j) return;
      if (j->contains("method")) {
        auto m = api->field(req, res, *j, "method", 16);
        if (!m) return;
        method = *m;
      }
    }
    if (method == "totp") api->send(req, res, api->service_.mfa_setup(*who));
    else if (method == "email") api->send(req, res, api->service_.mfa_setup_email(*who, client_of(req)));
    else api->send(req, res, Outcome::error(400, "validation_failed", "method must be \"totp\" or \"email\""));
  });
  http.Post("/api/v1/mfa/email-code", [api](const Request& req, Response& res) {
    if (!api->origin_ok(req, res)) return;
    if (auto who = api->principal(req, res)) api->send(req, res, api->service_.mfa_send_email_code(*who, client_of(req)));
  });
  http.Get("/api/v1/mfa/status", [api](const Request& req, Response& res) {
    if (auto who = api->principal(req, res)) api->send(req, res, api->service_.mfa_status(*who));
  });
  using CodeAction = Outcome (AuthService::*)(const Principal&, const std::string&, const ClientInfo&);
  for (auto [path, action] : {std::pair<const char*, CodeAction>{"/api/v1/mfa/enable", &AuthService::mfa_enable},
                              {"/api/v1/mfa/disable", &AuthService::mfa_disable},
                              {"/api/v1/mfa/backup-codes", &AuthService::mfa_new_backup_codes}}) {
    http.Post(path, [api, action](const Request& req, Response& res) {
      auto call = api->signed_in_body(req, res);
      if (!call) return;
      auto& [who, j] = *call;
      auto code = api->field(req, res, j, "code", 16);
      if (code) api->send(req, res, (api->service_.*action)(who, *code, client_of(req)));
    });
  }
  for (auto [path, backup] : {std::pair<const char*, bool>{"/api/v1/mfa/verify", false}, {"/api/v1/mfa/verify-backup", true}}) {
    http.Post(path, [api, backup](const Request& req, Response& res) {
      if (!api->origin_ok(req, res)) return;
      auto j = api->body(req, res);
      if (!j) return;
      auto token = api->field(req, res, *j, "mfa_token", 128);
      if (!token) return;
      auto code = api->field(req, res, *j, "code", 32);
      if (code) api->send(req, res, api->service_.mfa_verify(*token, *code, backup, client_of(req)));
    });
  }

  http.Get("/api/v1/auth/export", [api](const Request& req, Response& res) {
    if (auto who = api->principal(req, res)) api->send(req, res, api->service_.export_data(*who));
  });

  http.Delete("/api/v1/auth/account", [api](const Request& req, Response& res) {
    auto call = api->signed_in_body(req, res);
    if (!call) return;
    auto& [who, j] = *call;
    // Accounts made by an OAuth provider have no password to give.
    auto password = j.contains("password") ? api->field(req, res, j, "password", 512) : std::string();
    if (!password) return;
    api->send(req, res, api->service_.delete_account(who, *password, client_of(req)));
  });

  http.Get("/api/v1/admin/users", [api](const Request& req, Response& res) {
    auto who = api->principal(req, res);
    if (!who) return;
    size_t limit = 100;
    if (req.has_param("limit")) {
      try {
        limit = std::clamp<size_t>(std::stoul(req.get_param_value("limit")), 1, 1000);
      } catch (const std::exception&) {
        return api->send(req, res, Outcome::error(400, "validation_failed", "limit must be a number"));
      }
    }
    api->send(req, res, api->service_.admin_list_users(*who, req.get_param_value("after").substr(0, 64), limit));
  });

  http.Patch(R"(/api/v1/admin/users/([0-9a-f]{32}))", [api](const Request& req, Response& res) {
    auto call = api->signed_in_body(req, res);
    if (!call) return;
    auto& [who, j] = *call;
    api->send(req, res, api->service_.admin_update_user(who, req.matches[1], j, client_of(req)));
  });

  http.Delete(R"(/api/v1/auth/sessions/([0-9a-f]{32}))", [api](const Request& req, Response& res) {
    if (!api->origin_ok(req, res)) return;
    if (auto who = api->principal(req, res))
      api->send(req, res, api->service_.revoke_session(*who, req.matches[1], client_of(req)));
  });

  // --- OAuth / OpenID Connect (authd/oauth.cc)
  http.Get(R"(/api/v1/oauth/([a-z0-9_-]{1,32})/start)", [api, &oauth](const Request& req, Response& res) {
    api->redirect(req, res, oauth.start(req.matches[1], param(req, "redirect_to", 2048), client_of(req)));
  });
  http.Get(R"(/api/v1/oauth/([a-z0-9_-]{1,32})/callback)", [api, &oauth](const Request& req, Response& res) {
    CallbackParams p{param(req, "code", 4096), param(req, "state", 64), param(req, "error", 64),
                     param(req, "iss", 2048)};
    if (p.error.empty() && req.has_param("error")) p.error = "other";
    auto binding = api->cookie(req, res, kOAuthCookie);
    if (binding) api->redirect(req, res, oauth.callback(req.matches[1], p, *binding, client_of(req)));
  });
  http.Post("/api/v1/oauth/link", [api, &oauth](const Request& req, Response& res) {
    auto call = api->signed_in_body(req, res);
    if (!call) return;
    auto& [who, j] = *call;
    auto provider = api->field(req, res, j, "provider", 32);
    if (!provider) return;
    auto target = j.contains("redirect_to") ? api->field(req, res, j, "redirect_to", 2048) : std::string();
    if (!target) return;
    std::string binding;
    Outcome o = oauth.start_link(who, *provider, *target, binding, client_of(req));
    if (o.ok()) api->set_binding_cookie(res, binding);
    api->send(req, res, o);
  });
  http.Post("/api/v1/oauth/unlink", [api](const Request& req, Response& res) {
    auto call = api->signed_in_body(req, res);
    if (!call) return;
    auto& [who, j] = *call;
    auto provider = api->field(req, res, j, "provider", 32);
    if (provider) api->send(req, res, api->service_.oauth_unlink(who, *provider, client_of(req)));
  });
}

}  // namespace spa::authd
