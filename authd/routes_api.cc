#include "authd/routes_api.h"

#include <strings.h>

#include <ctime>

#include "authd/server.h"
#include "core/cookies.h"
#include "core/envelope.h"
#include "core/json_strict.h"
#include "core/utf8.h"

namespace spa::authd::routes {
namespace {

using json = nlohmann::json;

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

bool unsafe(const Request& req) { return req.method != "GET" && req.method != "HEAD" && req.method != "OPTIONS"; }

}  // namespace

ClientInfo client_of(const Request& req) {
  return {AuthServer::request_id(req), core::utf8_clip(req.get_header_value("X-Real-IP"), ClientInfo::kMaxIpBytes),
          core::utf8_clip(req.get_header_value("User-Agent"), ClientInfo::kMaxUserAgentBytes)};
}

std::string param(const Request& req, const char* name, size_t max) {
  std::string v = req.get_param_value(name);
  return v.size() <= max ? v : std::string();
}

void Api::send(const Request& req, Response& res, const Outcome& o) {
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
    if (config.mode != TokenMode::kBearer) set_token_cookies(res, *o.tokens);
    if (config.mode != TokenMode::kCookie) {
      data["access_token"] = o.tokens->access_token;
      data["refresh_token"] = o.tokens->refresh_token;
      data["token_type"] = "Bearer";
    }
    data["expires_in"] = o.tokens->expires_in;
  }
  res.status = o.status;
  res.set_content(core::success_envelope(data, AuthServer::request_id(req), unix_now()) + "\n", "application/json");
}

std::optional<std::string> Api::cookie(const Request& req, Response& res, const char* name) {
  auto value = read_cookie(req, name);
  if (!value)
    send(req, res, Outcome::error(Errc::kDuplicateCookie, std::string("the cookie ") + name + " was sent more than once"));
  return value;
}

std::optional<json> Api::body(const Request& req, Response& res) {
  json j;
  std::string err;
  if (!core::parse_json_strict(req.body, j, err, core::JsonLimits{64 * 1024, 8}) || !j.is_object()) {
    send(req, res, Outcome::error(Errc::kInvalidRequest, "body must be a JSON object"));
    return std::nullopt;
  }
  return j;
}

std::optional<std::string> Api::field(const Request& req, Response& res, const json& j, const char* name,
                                      size_t max) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_string()) {
    send(req, res, Outcome::error(Errc::kValidationFailed, std::string(name) + " must be a string"));
    return std::nullopt;
  }
  const auto& s = it->get_ref<const std::string&>();
  if (s.size() > max) {
    send(req, res, Outcome::error(Errc::kValidationFailed, std::string(name) + " is too long"));
    return std::nullopt;
  }
  return s;
}

bool Api::origin_ok(const Request& req, Response& res) {
  if (!unsafe(req)) return true;
  std::string origin = req.get_header_value("Origin");
  auto access = read_cookie(req, kAccessCookie), refresh = read_cookie(req, kRefreshCookie);
  bool cookies = !access || !refresh || !access->empty() || !refresh->empty();
  if (origin.empty() && !cookies) return true;
  for (const auto& allowed : config.allowed_origins)
    if (origin == allowed) return true;
  send(req, res, Outcome::error(Errc::kOriginNotAllowed, "request origin is not allowed"));
  return false;
}

std::optional<std::string> Api::refresh_token(const Request& req, Response& res) {
  auto token = cookie(req, res, kRefreshCookie);
  if (!token || req.body.empty()) return token;
  auto j = body(req, res);
  if (!j) return std::nullopt;
  if (!j->contains("refresh_token")) return token;
  return field(req, res, *j, "refresh_token", kMaxToken);
}

std::optional<std::string> Api::access_token(const Request& req, Response& res) {
  std::string token = bearer(req);
  if (!token.empty()) return token;
  return cookie(req, res, kAccessCookie);
}

std::optional<Principal> Api::principal(const Request& req, Response& res) {
  auto token = access_token(req, res);
  if (!token) return std::nullopt;
  std::string why;
  auto who = token->empty() ? std::nullopt : sessions.authenticate(*token, why);
  if (!who)
    send(req, res,
         Outcome::error(Errc::kInvalidToken, token->empty() ? "no access token" : "access token is not valid"));
  return who;
}

bool Api::maybe_principal(const Request& req, Response& res, std::optional<Principal>& who) {
  auto token = access_token(req, res);
  if (!token) return false;
  std::string why;
  who = token->empty() ? std::nullopt : sessions.authenticate(*token, why);
  return true;
}

std::optional<json> Api::posted_body(const Request& req, Response& res) {
  if (!origin_ok(req, res)) return std::nullopt;
  return body(req, res);
}

std::optional<std::pair<Principal, std::string>> Api::signed_in_field(const Request& req, Response& res,
                                                                      const char* name, size_t max) {
  auto call = signed_in_body(req, res);
  if (!call) return std::nullopt;
  auto value = field(req, res, call->second, name, max);
  if (!value) return std::nullopt;
  return std::make_pair(std::move(call->first), std::move(*value));
}

std::optional<std::pair<Principal, json>> Api::signed_in_body(const Request& req, Response& res) {
  if (!origin_ok(req, res)) return std::nullopt;
  auto who = principal(req, res);
  if (!who) return std::nullopt;
  auto j = body(req, res);
  if (!j) return std::nullopt;
  return std::make_pair(std::move(*who), std::move(*j));
}

void Api::set_token_cookies(Response& res, const IssuedTokens& t) {
  res.set_header("Set-Cookie", std::string(kAccessCookie) + "=" + t.access_token +
                                   "; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=" +
                                   std::to_string(config.access_ttl));
  res.set_header("Set-Cookie", std::string(kRefreshCookie) + "=" + t.refresh_token +
                                   "; Path=/api/v1/auth; Secure; HttpOnly; SameSite=Strict; Max-Age=" +
                                   std::to_string(config.refresh_ttl));
}

void Api::clear_cookies(Response& res) {
  if (config.mode == TokenMode::kBearer) return;
  res.set_header("Set-Cookie", std::string(kAccessCookie) + "=; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=0");
  res.set_header("Set-Cookie",
                 std::string(kRefreshCookie) + "=; Path=/api/v1/auth; Secure; HttpOnly; SameSite=Strict; Max-Age=0");
}

void Api::redirect(const Request& req, Response& res, const OAuthAnswer& a) {
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

void Api::set_binding_cookie(Response& res, const std::string& value) {
  res.set_header("Set-Cookie", std::string(kOAuthCookie) + "=" + value +
                                   "; Path=/api/v1/oauth; Secure; HttpOnly; SameSite=Lax; Max-Age=" +
                                   (value.empty() ? "0" : std::to_string(OAuthLogin::kStateTtl)));
}

}  // namespace spa::authd::routes
