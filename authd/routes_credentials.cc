// Routes of CredentialService: password reset, re-authentication,
// password change.
#include "authd/routes_api.h"

namespace spa::authd::routes::credentials {

void reset_request(Api& api, const Request& req, Response& res) {
  auto j = api.posted_body(req, res);
  if (!j) return;
  auto email = api.field(req, res, *j, "email", kMaxEmail);
  if (email) api.send(req, res, api.credentials.password_reset_request(*email, client_of(req)));
}

void reset_confirm(Api& api, const Request& req, Response& res) {
  auto j = api.posted_body(req, res);
  if (!j) return;
  auto token = api.field(req, res, *j, "token", kMaxToken);
  if (!token) return;
  auto password = api.field(req, res, *j, "password", kMaxPassword);
  if (password) api.send(req, res, api.credentials.password_reset_confirm(*token, *password, client_of(req)));
}

// {password} or {code} (TOTP or e-mailed) or {backup_code}.
void reauthenticate(Api& api, const Request& req, Response& res) {
  auto call = api.signed_in_body(req, res);
  if (!call) return;
  auto& [who, j] = *call;
  std::optional<std::string> password = std::string(), code = std::string();
  bool backup = j.contains("backup_code");
  if (j.contains("password")) password = api.field(req, res, j, "password", kMaxPassword);
  else if (backup) code = api.field(req, res, j, "backup_code", 32);
  else if (j.contains("code")) code = api.field(req, res, j, "code", 32);
  else return api.send(req, res, Outcome::error(Errc::kValidationFailed, "give password, code or backup_code"));
  if (!password || !code) return;
  if (password->empty() && code->empty())
    return api.send(req, res, Outcome::error(Errc::kValidationFailed, "password or code must not be empty"));
  api.send(req, res, api.credentials.reauthenticate(who, *password, *code, backup, client_of(req)));
}

void change_password(Api& api, const Request& req, Response& res) {
  if (auto call = api.signed_in_field(req, res, "password", kMaxPassword))
    api.send(req, res, api.credentials.change_password(call->first, call->second, client_of(req)));
}

}  // namespace spa::authd::routes::credentials
