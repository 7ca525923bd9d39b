#include "authd/account_service.h"

#include "authd/crypto.h"
#include "authd/passwords.h"

namespace spa::authd {

Outcome AccountService::signup(const std::string& email, const std::string& username, const std::string& password,
                               const ClientInfo& client) {
  if (!valid_email(email)) return Outcome::error(Errc::kValidationFailed, "email is not a valid address");
  if (!valid_username(username))
    return Outcome::error(Errc::kValidationFailed, "username must be 3 to 32 letters, digits, '_', '.' or '-'");
  if (auto problem = password_problem(password, email, username))
    return Outcome::error(Errc::kValidationFailed, *problem);
  auto phc = issuer_.hasher().hash(password);  // slow on purpose; outside the write lock
  if (!phc) return server_busy();
  int64_t now = issuer_.now();
  UserRecord user;
  user.id = random_hex_id();
  user.email = email;
  user.username = username;
  user.password = *phc;
  user.created_at = now;
  user.updated_at = now;
  user.email_verified = false;
  user.audit_id = random_hex_id();
  // Made under require_verified_email: erased if never confirmed (accounts
  // from before, or from the relaxed mode, carry no such date and stay).
  if (config_.require_verified_email) user.unverified_erase_at = now + kUnverifiedTtl;
  // A taken address answers exactly as a new one (no account oracle); its
  // owner gets a mail instead of the verification link.
  Outcome result;
  result.status = 201;
  result.data = {{"user", user.public_view()}, {"verification", "sent"}};
  std::string link, owner_address, owner_id;
  Error e = store_.transact([&](Store::Txn& t) {
    if (t.get(Db::kUsersByName, fold(username))) {
      result = Outcome::error(Errc::kUsernameTaken, "this username is taken");
      return TxnEnd::kAbort;
    }
    if (auto id = t.get(Db::kUsersByEmail, fold(email))) {
      auto owner = load_user(t, *id);
      if (!owner) {
        result = store_failure({Errc::kStoreFailed, "user index points nowhere"});
        return TxnEnd::kAbort;
      }
      owner_address = owner->email;
      owner_id = *id;
      issuer_.audit(t, "signup_with_existing_email", *owner, client, now);
      return TxnEnd::kCommit;
    }
    issuer_.audit(t, "signup", user, client, now);
    link = new_verify_link(t, user, now);
    return commit_if(!link.empty() && save_user(t, user) && t.put(Db::kUsersByEmail, fold(email), user.id) &&
                     t.put(Db::kUsersByName, fold(username), user.id));
  });
  if (!e.ok()) return store_failure(e);
  if (!result.ok()) return result;
  int64_t wait = 0;
  Outbox& mail = issuer_.outbox();
  if (!link.empty()) {
    if (mail.room(MailClass::kLink, email, user.id, wait)) mail_verify_link(email, link);
  } else if (mail.room(MailClass::kNotice, owner_address, owner_id, wait)) {
    mail.deliver(MailClass::kNotice, owner_address, "Someone tried to sign up with your address",
                 "Someone tried to create an account with this e-mail address, which already has one.\n\n"
                 "If it was you, sign in, or reset your password if you have forgotten it.\n"
                 "If it was not you, you need not do anything: your account is unchanged.\n");
  }
  return result;
}

Outcome AccountService::me(const Principal& who) {
  Outcome o;
  auto user = issuer_.current_account(who, o);
  if (!user) return o;
  o.data = {{"user", user->public_view()}, {"session_id", who.sid}};
  return o;
}

}  // namespace spa::authd
