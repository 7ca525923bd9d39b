// E-mail verification (AccountService): a mailed single-use link, 24
// hours, stored as the SHA-256 of a 256-bit token ({"user", "email",
// "expires_at"} in verify_tokens). Until it is used the address is not
// trusted: nothing is linked to the account by that address, and with
// [security] require_verified_email a password login answers 403
// email_not_verified.
#include "authd/account_service.h"
#include "authd/crypto.h"
#include "authd/passwords.h"
#include "authd/records/links.h"

namespace spa::authd {

std::string AccountService::new_verify_link(Store::Txn& t, const UserRecord& user, int64_t now) {
  std::string token = random_token();
  VerifyLinkRecord record;
  record.user = user.id;
  record.email = user.email;
  record.expires_at = now + kVerifyTokenTtl;
  return put_user_record(t, Db::kVerifyTokens, sha256(token), user.id, record.to_json()) ? token : std::string();
}

void AccountService::mail_verify_link(const std::string& address, const std::string& token) {
  // In the fragment: browsers send it to no server, so it stays out of
  // access logs and Referer headers (as the reset link).
  issuer_.outbox().deliver(
      MailClass::kLink, address, "Confirm your e-mail address",
      "Someone created an account with this address. If it was you, open this link within 24 hours\n"
      "and confirm with the password you chose:\n\n" + link_base(config_) + "/verify-email#token=" + token +
          "\n\nIf it was not you, ignore this message: without your address confirmed, the account\n"
          "cannot sign in, and you can still claim the address by resetting the password.\n");
}

Outcome AccountService::verify_email_request(const std::string& email, const ClientInfo& client) {
  Outcome same;  // the one answer, account or not, verified or not
  same.status = 202;
  same.data = {{"message", "if an account with this e-mail needs confirming, a link is on its way"}};
  if (!valid_email(email)) return Outcome::error(Errc::kValidationFailed, "email is not a valid address");
  int64_t now = issuer_.now();
  std::string token, address;
  Error e = store_.transact([&](Store::Txn& t) {
    auto id = t.get(Db::kUsersByEmail, fold(email));
    auto user = id ? load_user(t, *id) : std::nullopt;
    // Every path commits (a link, or the pad): the time tells nothing.
    if (!user || user->disabled || user->verified()) return commit_if(timing_pad(t));
    address = user->email;
    int64_t wait = 0;  // over the limit: nothing stored, nothing sent, the same answer
    if (!issuer_.outbox().room(MailClass::kLink, address, *id, wait)) return commit_if(timing_pad(t));
    issuer_.audit(t, "email_verification_requested", *user, client, now);
    // A new link gets its full week before the account is erased.
    if (user->unverified_erase_at) {
      user->unverified_erase_at = std::max(*user->unverified_erase_at, now + kUnverifiedTtl);
      if (!save_user(t, *user)) return TxnEnd::kAbort;
    }
    token = new_verify_link(t, *user, now);
    return commit_if(!token.empty());
  });
  if (!e.ok()) return store_failure(e);
  if (!token.empty()) mail_verify_link(address, token);
  return same;
}

Outcome AccountService::verify_email_confirm(const std::string& token, const std::string& password,
                                             const ClientInfo& client, const Principal* who) {
  Outcome invalid = Outcome::error(Errc::kInvalidToken, "the verification link is not valid or has expired");
  if (token.empty() || token.size() > 128) return invalid;
  int64_t now = issuer_.now();
  std::string key = sha256(token);
  // Which account, to check its password outside the write lock.
  std::optional<UserRecord> user;
  Error e = store_.view([&](const Store::Txn& t) {
    auto record = t.get_record<VerifyLinkRecord>(Db::kVerifyTokens, key);
    if (record && record->expires_at > now) user = load_user(t, record->user);
  });
  if (!e.ok()) return store_failure(e);
  if (!user) return invalid;
  bool has_password = !user->password.empty();
  std::optional<bool> good = false;
  if (has_password) good = issuer_.password_matches(&*user, password);
  if (!good) return server_busy();  // the link stays usable
  Outcome result = invalid;
  e = store_.transact([&](Store::Txn& t) {
    auto record = t.get_record<VerifyLinkRecord>(Db::kVerifyTokens, key);
    if (!record) return TxnEnd::kAbort;
    const std::string& id = record->user;
    auto u = load_user(t, id);
    // A link mailed to an address the account no longer has proves nothing.
    if (record->expires_at <= now || !u || id != user->id || fold(u->email) != fold(record->email))
      return commit_if(t.del(Db::kVerifyTokens, key) &&  // spent either way
                       t.del(Db::kUserRecords, user_record_index_key(Db::kVerifyTokens, id, key)));
    std::string email = u->email;
    if (auto locked = issuer_.locked_out(t, email, now)) {
      result = *locked;
      return TxnEnd::kAbort;
    }
    // A password checked against credentials the account has since left is not good.
    if (has_password && (!*good || u->epoch() != user->epoch())) {
      // the link stays usable: a typo does not burn it
      result = issuer_.record_failure(t, email, &*u, client, now, Errc::kInvalidCredentials,
                                      "give the password chosen at sign-up to confirm the address");
      return TxnEnd::kCommit;  // the count
    }
    if (!u->verified()) {
      // No password: nothing ties whoever set the account up to this
      // mailbox, so the mailbox's owner claims it (a reset sets a password).
      bool signed_in = who && who->user_id == id;
      if (!has_password && !signed_in && !issuer_.claim_unverified_account(t, *u, client, now))
        return TxnEnd::kAbort;
      u->email_verified = true;
      u->email_verified_at = now;
      u->updated_at = now;
      u->unverified_erase_at.reset();
      issuer_.audit(t, "email_verified", *u, client, now);
    }
    if (!delete_user_records(t, Db::kVerifyTokens, id) || !issuer_.clear_failures(t, email)) return TxnEnd::kAbort;
    result = Outcome();
    result.data = {{"email_verified", true}, {"user", u->public_view()}};
    return commit_if(save_user(t, *u));
  });
  if (!e.ok()) return store_failure(e);
  return result;
}

}  // namespace spa::authd
