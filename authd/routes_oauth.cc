// Routes of the OAuth / OpenID Connect login (OAuthLogin, authd/oauth.cc)
// and of IdentityService's unlink.
#include "authd/routes_api.h"

namespace spa::authd::routes::oauth {

// The configured providers, in config order, for a login page's "Log in
// with ..." buttons. Public, like the login form: names and paths only.
void providers(Api& api, const Request& req, Response& res) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& p : api.config.oauth)
    list.push_back({{"name", p.name}, {"login", "/api/v1/oauth/" + p.name + "/start"}});
  Outcome o;
  o.data = {{"providers", std::move(list)}};
  api.send(req, res, o);
}

void start(Api& api, const Request& req, Response& res) {
  api.redirect(req, res, api.oauth.start(req.matches[1], param(req, "redirect_to", 2048), client_of(req)));
}

void callback(Api& api, const Request& req, Response& res) {
  CallbackParams p{param(req, "code", 4096), param(req, "state", 64), param(req, "error", 64),
                   param(req, "iss", 2048)};
  if (p.error.empty() && req.has_param("error")) p.error = "other";
  auto binding = api.cookie(req, res, kOAuthCookie);
  if (binding) api.redirect(req, res, api.oauth.callback(req.matches[1], p, *binding, client_of(req)));
}

void link(Api& api, const Request& req, Response& res) {
  auto call = api.signed_in_body(req, res);
  if (!call) return;
  auto& [who, j] = *call;
  auto provider = api.field(req, res, j, "provider", 32);
  if (!provider) return;
  auto target = j.contains("redirect_to") ? api.field(req, res, j, "redirect_to", 2048) : std::string();
  if (!target) return;
  std::string binding;
  Outcome o = api.oauth.start_link(who, *provider, *target, binding, client_of(req));
  if (o.ok()) api.set_binding_cookie(res, binding);
  api.send(req, res, o);
}

void unlink(Api& api, const Request& req, Response& res) {
  if (auto call = api.signed_in_field(req, res, "provider", 32))
    api.send(req, res, api.identities.oauth_unlink(call->first, call->second, client_of(req)));
}

}  // namespace spa::authd::routes::oauth
