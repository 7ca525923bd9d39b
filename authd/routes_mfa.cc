// Routes of SecondFactorService: /api/v1/mfa/*.
#include "authd/routes_api.h"

namespace spa::authd::routes::mfa {
namespace {

using CodeAction = Outcome (SecondFactorService::*)(const Principal&, const std::string&, const ClientInfo&);

// enable, disable, backup-codes: a signed-in user and {code}.
void with_code(Api& api, const Request& req, Response& res, CodeAction action) {
  if (auto call = api.signed_in_field(req, res, "code", 16))
    api.send(req, res, (api.factors.*action)(call->first, call->second, client_of(req)));
}

// verify, verify-backup: the login's mfa_token and {code}.
void finish_login(Api& api, const Request& req, Response& res, bool backup) {
  auto j = api.posted_body(req, res);
  if (!j) return;
  auto token = api.field(req, res, *j, "mfa_token", kMaxToken);
  if (!token) return;
  auto code = api.field(req, res, *j, "code", 32);
  if (code) api.send(req, res, api.factors.mfa_verify(*token, *code, backup, client_of(req)));
}

}  // namespace

void setup(Api& api, const Request& req, Response& res) {
  if (!api.origin_ok(req, res)) return;
  auto who = api.principal(req, res);
  if (!who) return;
  std::string method = "totp";
  if (!req.body.empty()) {
    auto j = api.body(req, res);
    if (!j) return;
    if (j->contains("method")) {
      auto m = api.field(req, res, *j, "method", 16);
      if (!m) return;
      method = *m;
    }
  }
  if (method == "totp") api.send(req, res, api.factors.mfa_setup(*who));
  else if (method == "email") api.send(req, res, api.factors.mfa_setup_email(*who, client_of(req)));
  else api.send(req, res, Outcome::error(Errc::kValidationFailed, "method must be \"totp\" or \"email\""));
}

void email_code(Api& api, const Request& req, Response& res) {
  if (!api.origin_ok(req, res)) return;
  if (auto who = api.principal(req, res)) api.send(req, res, api.factors.mfa_send_email_code(*who, client_of(req)));
}

void status(Api& api, const Request& req, Response& res) {
  if (auto who = api.principal(req, res)) api.send(req, res, api.factors.mfa_status(*who));
}

void enable(Api& api, const Request& req, Response& res) { with_code(api, req, res, &SecondFactorService::mfa_enable); }

void disable(Api& api, const Request& req, Response& res) {
  with_code(api, req, res, &SecondFactorService::mfa_disable);
}

void backup_codes(Api& api, const Request& req, Response& res) {
  with_code(api, req, res, &SecondFactorService::mfa_new_backup_codes);
}

void verify(Api& api, const Request& req, Response& res) { finish_login(api, req, res, false); }

void verify_backup(Api& api, const Request& req, Response& res) { finish_login(api, req, res, true); }

}  // namespace spa::authd::routes::mfa
