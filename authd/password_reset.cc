// Password reset by e-mailed link (CredentialService): a 256-bit
// single-use token, stored hashed, valid 30 minutes; completing it revokes
// every session.
#include "authd/credential_service.h"
#include "authd/crypto.h"
#include "authd/passwords.h"

namespace spa::authd {
namespace {

using json = nlohmann::json;

std::optional<json> load(const Store::Txn& t, Db db, std::string_view key) { return load_json(t, db, key); }

Outcome invalid_link() { return Outcome::error(Errc::kInvalidToken, "the reset link is not valid or has expired"); }

}  // namespace

Outcome CredentialService::password_reset_request(const std::string& email, const ClientInfo& client) {
  Outcome same;  // the one answer, account or not
  same.status = 202;
  same.data = {{"message", "if an account has this e-mail, a reset link is on its way"}};
  if (!valid_email(email)) return Outcome::error(Errc::kValidationFailed, "email is not a valid address");
  int64_t now = issuer_.now();
  std::string token = random_token();
  std::string address;
  std::string err;
  bool sent = false;
  bool ok = store_.write(
      [&](Store::Txn& t) {
        auto id = t.get(Db::kUsersByEmail, fold(email));
        auto user = id ? load(t, Db::kUsers, *id) : std::nullopt;
        // Every path commits (a sent link, or the pad): a synchronous commit
        // costs the same, so the time does not tell an account from none.
        if (!user || user->value("disabled", false)) return timing_pad(t);
        address = user->value("email", "");
        int64_t wait = 0;  // over the limit: nothing stored, nothing sent, the same answer
        if (!issuer_.outbox().room(MailClass::kLink, address, *id, now, wait)) return timing_pad(t);
        issuer_.audit(t, "password_reset_requested", *user, client, now);
        json record = {{"user", *id}, {"expires_at", now + kResetTokenTtl}};
        return sent = put_user_record(t, Db::kResetTokens, sha256(token), *id, record.dump());
      },
      err);
  if (!ok && !err.empty()) return store_failure(err);
  if (ok && sent) {
    // A fragment, not a query: browsers do not send it to any server, so
    // the token stays out of access logs and Referer headers.
    issuer_.outbox().deliver(MailClass::kLink, address, "Reset your password",
                             "Someone asked to reset the password of your account.\n\n"
                             "To choose a new password, open this link within 30 minutes:\n\n" +
                                 link_base(config_) + "/reset-password#token=" + token +
                                 "\n\nIf it was not you, ignore this message; your password stays as it is.\n");
  }
  return same;
}

Outcome CredentialService::password_reset_confirm(const std::string& token, const std::string& password,
                                                  const ClientInfo& client) {
  int64_t now = issuer_.now();
  std::string key = sha256(token);
  std::optional<json> user;
  std::string err;
  if (!store_.read([&](const Store::Txn& t) {
        auto record = load(t, Db::kResetTokens, key);
        if (record && record->value("expires_at", int64_t{0}) > now)
          user = load(t, Db::kUsers, record->value("user", ""));
      }, err))
    return store_failure(err);
  if (!user) return invalid_link();
  if (auto problem = password_problem(password, user->value("email", ""), user->value("username", "")))
    return Outcome::error(Errc::kValidationFailed, *problem);
  auto phc = issuer_.hasher().hash(password);  // slow; outside the write lock
  if (!phc) return server_busy();  // the link is untouched
  std::string id = user->value("id", "");
  Outcome result = invalid_link();
  bool ok = store_.write(
      [&](Store::Txn& t) {
        // Checked again: the link may have been used meanwhile.
        auto record = load(t, Db::kResetTokens, key);
        auto u = load(t, Db::kUsers, id);
        if (!record || record->value("expires_at", int64_t{0}) <= now || !u) return false;
        // Every outstanding link of the user dies with this one.
        if (!delete_user_records(t, Db::kResetTokens, id) || !t.del(Db::kResetTokens, key)) return false;
        // The first proof of the address: whatever was set up before it
        // (another's provider identity, second factor, sessions) goes.
        if (!u->value("email_verified", false) && !issuer_.claim_unverified_account(t, *u, client, now)) return false;
        (*u)["password"] = *phc;
        if (!issuer_.new_credentials(t, *u)) return false;
        // The link reached the address: it is proven now.
        (*u)["email_verified"] = true;
        (*u)["updated_at"] = now;
        if (!issuer_.clear_failures(t, u->value("email", ""))) return false;
        if (!issuer_.end_all_sessions(t, id, now, core::SessionState::kRevoked)) return false;
        issuer_.audit(t, "password_reset", *u, client, now);
        result = Outcome();
        result.data = {{"reset", true}};
        return t.put(Db::kUsers, id, u->dump());
      },
      err, Store::WriteKind::kRevocation);
  if (!ok && !err.empty()) return store_failure(err);
  return result;
}

}  // namespace spa::authd
