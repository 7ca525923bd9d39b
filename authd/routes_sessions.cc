// Routes of SessionService: login, refresh, logout, a user's sessions.
#include "authd/routes_api.h"
#include "authd/metrics.h"
#include "core/claims.h"

namespace spa::authd::routes::sessions {

void login(Api& api, const Request& req, Response& res) {
  auto j = api.posted_body(req, res);
  if (!j) return;
  auto email = api.field(req, res, *j, "email", kMaxEmail);
  if (!email) return;
  auto password = api.field(req, res, *j, "password", kMaxPassword);
  if (!password) return;
  Outcome o = api.sessions.login(*email, *password, client_of(req));
  metrics::count(metrics::Family::kLogins, {metrics::outcome(o)});
  api.send(req, res, o);
}

void refresh(Api& api, const Request& req, Response& res) {
  if (!api.origin_ok(req, res)) return;
  auto token = api.refresh_token(req, res);
  if (!token) return;
  Outcome o = api.sessions.refresh(*token, client_of(req));
  metrics::count(metrics::Family::kRefreshes, {metrics::outcome(o)});
  api.send(req, res, o);
}

void logout(Api& api, const Request& req, Response& res) {
  if (!api.origin_ok(req, res)) return;
  std::optional<Principal> who;
  if (!api.maybe_principal(req, res, who)) return;
  auto refresh = api.refresh_token(req, res);
  if (refresh) api.send(req, res, api.sessions.logout(who, *refresh, client_of(req)));
}

// For nginx's auth_request (setups without the module): 204 with who the
// caller is as X-User-* headers, or the 401 envelope. The token is checked
// as every signed-in route checks it: signature, claims, the session in the
// store and that it is the token's subject's.
void verify(Api& api, const Request& req, Response& res) {
  auto who = api.principal(req, res);
  if (!who) return;
  const std::pair<const char*, const std::string*> fields[] = {
      {"X-User-Id", &who->user_id},   {"X-User-Email", &who->email},  {"X-User-Name", &who->username},
      {"X-User-Role", &who->role},    {"X-User-Session", &who->sid},
  };
  // A claim with a control character, or past 1 KiB, is left out (the
  // module refuses such a token with unsafe_claim; here the answer is
  // still the caller's, without that header).
  for (const auto& [name, value] : fields)
    if (!value->empty() && value->size() <= 1024 && core::is_header_safe(*value)) res.set_header(name, *value);
  res.set_header("X-User-MFA", who->second_factor ? "true" : "false");
  res.set_header("Cache-Control", "no-store");
  res.status = 204;
}

void list(Api& api, const Request& req, Response& res) {
  if (auto who = api.principal(req, res)) api.send(req, res, api.sessions.list_sessions(*who));
}

void revoke(Api& api, const Request& req, Response& res) {
  if (!api.origin_ok(req, res)) return;
  if (auto who = api.principal(req, res))
    api.send(req, res, api.sessions.revoke_session(*who, req.matches[1], client_of(req)));
}

}  // namespace spa::authd::routes::sessions
