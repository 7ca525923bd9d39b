// Routes of AccountService and PrivacyService: sign-up, whoami, e-mail
// verification, export and erasure.
#include "authd/routes_api.h"

namespace spa::authd::routes::accounts {

void signup(Api& api, const Request& req, Response& res) {
  auto j = api.posted_body(req, res);
  if (!j) return;
  auto email = api.field(req, res, *j, "email", kMaxEmail);
  if (!email) return;
  auto username = api.field(req, res, *j, "username", 64);
  if (!username) return;
  auto password = api.field(req, res, *j, "password", kMaxPassword);
  if (!password) return;
  api.send(req, res, api.accounts.signup(*email, *username, *password, client_of(req)));
}

void me(Api& api, const Request& req, Response& res) {
  if (auto who = api.principal(req, res)) api.send(req, res, api.accounts.me(*who));
}

void verify_email_request(Api& api, const Request& req, Response& res) {
  auto j = api.posted_body(req, res);
  if (!j) return;
  auto email = api.field(req, res, *j, "email", kMaxEmail);
  if (email) api.send(req, res, api.accounts.verify_email_request(*email, client_of(req)));
}

void verify_email_confirm(Api& api, const Request& req, Response& res) {
  auto j = api.posted_body(req, res);
  if (!j) return;
  auto token = api.field(req, res, *j, "token", kMaxToken);
  if (!token) return;
  auto password = j->contains("password") ? api.field(req, res, *j, "password", kMaxPassword) : std::string();
  if (!password) return;
  // Signed in (an account without a password, its owner in the SPA)?
  std::optional<Principal> who;
  if (!api.maybe_principal(req, res, who)) return;
  api.send(req, res, api.accounts.verify_email_confirm(*token, *password, client_of(req), who ? &*who : nullptr));
}

void export_data(Api& api, const Request& req, Response& res) {
  if (auto who = api.principal(req, res)) api.send(req, res, api.privacy.export_data(*who));
}

void delete_account(Api& api, const Request& req, Response& res) {
  auto call = api.signed_in_body(req, res);
  if (!call) return;
  auto& [who, j] = *call;
  // Accounts made by an OAuth provider have no password to give.
  auto password = j.contains("password") ? api.field(req, res, j, "password", kMaxPassword) : std::string();
  if (!password) return;
  api.send(req, res, api.privacy.delete_account(who, *password, client_of(req)));
}

}  // namespace spa::authd::routes::accounts
