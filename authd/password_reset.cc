// Password reset by e-mailed link (CredentialService): a 256-bit
// single-use token, stored hashed, valid 30 minutes; completing it revokes
// every session.
#include "authd/credential_service.h"
#include "authd/crypto.h"
#include "authd/passwords.h"
#include "authd/records/links.h"

namespace spa::authd {
namespace {

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
  bool sent = false;
  Error e = store_.transact([&](Store::Txn& t) {
    auto id = t.get(Db::kUsersByEmail, fold(email));
    auto user = id ? load_user(t, *id) : std::nullopt;
    // Every path commits (a sent link, or the pad): a synchronous commit
    // costs the same, so the time does not tell an account from none.
    if (!user || user->disabled) return commit_if(timing_pad(t));
    address = user->email;
    int64_t wait = 0;  // over the limit: nothing stored, nothing sent, the same answer
    if (!issuer_.outbox().room(MailClass::kLink, address, *id, wait)) return commit_if(timing_pad(t));
    issuer_.audit(t, "password_reset_requested", *user, client, now);
    ResetLinkRecord record;
    record.user = *id;
    record.expires_at = now + kResetTokenTtl;
    return commit_if(sent = put_user_record(t, Db::kResetTokens, sha256(token), *id, record.to_json()));
  });
  if (!e.ok()) return store_failure(e);
  if (sent) {
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
  std::optional<UserRecord> user;
  Error e = store_.view([&](const Store::Txn& t) {
    auto record = t.get_record<ResetLinkRecord>(Db::kResetTokens, key);
    if (record && record->expires_at > now) user = load_user(t, record->user);
  });
  if (!e.ok()) return store_failure(e);
  if (!user) return invalid_link();
  if (auto problem = password_problem(password, user->email, user->username))
    return Outcome::error(Errc::kValidationFailed, *problem);
  auto phc = issuer_.hasher().hash(password);  // slow; outside the write lock
  if (!phc) return server_busy();  // the link is untouched
  std::string id = user->id;
  Outcome result = invalid_link();
  e = store_.transact(
      [&](Store::Txn& t) {
        // Checked again: the link may have been used meanwhile.
        auto record = t.get_record<ResetLinkRecord>(Db::kResetTokens, key);
        auto u = load_user(t, id);
        if (!record || record->expires_at <= now || !u) return TxnEnd::kAbort;
        // Every outstanding link of the user dies with this one.
        if (!delete_user_records(t, Db::kResetTokens, id) || !t.del(Db::kResetTokens, key)) return TxnEnd::kAbort;
        // The first proof of the address: whatever was set up before it
        // (another's provider identity, second factor, sessions) goes.
        if (!u->verified() && !issuer_.claim_unverified_account(t, *u, client, now)) return TxnEnd::kAbort;
        u->password = *phc;
        if (!issuer_.new_credentials(t, *u)) return TxnEnd::kAbort;
        // The link reached the address: it is proven now.
        u->email_verified = true;
        u->updated_at = now;
        if (!issuer_.clear_failures(t, u->email)) return TxnEnd::kAbort;
        if (!issuer_.end_all_sessions(t, id, now, core::SessionState::kRevoked)) return TxnEnd::kAbort;
        issuer_.audit(t, "password_reset", *u, client, now);
        result = Outcome();
        result.data = {{"reset", true}};
        return commit_if(save_user(t, *u));
      },
      Store::WriteKind::kRevocation);
  if (!e.ok()) return store_failure(e);
  return result;
}

}  // namespace spa::authd
