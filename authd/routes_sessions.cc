// Routes of SessionService: login, refresh, logout, a user's sessions.
#include "authd/routes_api.h"

namespace spa::authd::routes::sessions {

void login(Api& api, const Request& req, Response& res) {
  auto j = api.posted_body(req, res);
  if (!j) return;
  auto email = api.field(req, res, *j, "email", kMaxEmail);
  if (!email) return;
  auto password = api.field(req, res, *j, "password", kMaxPassword);
  if (!password) return;
  api.send(req, res, api.sessions.login(*email, *password, client_of(req)));
}

void refresh(Api& api, const Request& req, Response& res) {
  if (!api.origin_ok(req, res)) return;
  auto token = api.refresh_token(req, res);
  if (token) api.send(req, res, api.sessions.refresh(*token, client_of(req)));
}

void logout(Api& api, const Request& req, Response& res) {
  if (!api.origin_ok(req, res)) return;
  std::optional<Principal> who;
  if (!api.maybe_principal(req, res, who)) return;
  auto refresh = api.refresh_token(req, res);
  if (refresh) api.send(req, res, api.sessions.logout(who, *refresh, client_of(req)));
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
