#include "authd/account_service.h"

#include "authd/crypto.h"
#include "authd/passwords.h"

namespace spa::authd {

using json = nlohmann::json;

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
  json user = {{"id", random_hex_id()},   {"email", email},        {"username", username},
               {"password", *phc},         {"role", "user"},        {"disabled", false},
               {"created_at", now},       {"updated_at", now},     {"email_verified", false},
               {"audit_id", random_hex_id()}};
  // Made under require_verified_email: erased if never confirmed (accounts
  // from before, or from the relaxed mode, carry no such date and stay).
  if (config_.require_verified_email) user["unverified_erase_at"] = now + kUnverifiedTtl;
  // A taken address answers exactly as a new one (no account oracle); its
  // owner gets a mail instead of the verification link.
  Outcome result;
  result.status = 201;
  result.data = {{"user", public_user(user)}, {"verification", "sent"}};
  std::string link, owner_address, owner_id;
  std::string err;
  bool ok = store_.write(
      [&](Store::Txn& t) {
        if (t.get(Db::kUsersByName, fold(username))) {
          result = Outcome::error(Errc::kUsernameTaken, "this username is taken");
          return false;
        }
        if (auto id = t.get(Db::kUsersByEmail, fold(email))) {
          auto owner = load_json(t, Db::kUsers, *id);
          if (!owner) return false;
          owner_address = owner->value("email", "");
          owner_id = *id;
          issuer_.audit(t, "signup_with_existing_email", *owner, client, now);
          return true;
        }
        issuer_.audit(t, "signup", user, client, now);
        link = new_verify_link(t, user, now);
        return !link.empty() && t.put(Db::kUsers, user["id"].get<std::string>(), user.dump()) &&
               t.put(Db::kUsersByEmail, fold(email), user["id"].get<std::string>()) &&
               t.put(Db::kUsersByName, fold(username), user["id"].get<std::string>());
      },
      err);
  if (!ok && !err.empty()) return store_failure(err);
  if (!ok) return result.ok() ? store_failure("user index points nowhere") : result;
  int64_t wait = 0;
  Outbox& mail = issuer_.outbox();
  if (!link.empty()) {
    if (mail.room(MailClass::kLink, email, user["id"], now, wait)) mail_verify_link(email, link);
  } else if (mail.room(MailClass::kNotice, owner_address, owner_id, now, wait)) {
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
  o.data = {{"user", public_user(*user)}, {"session_id", who.sid}};
  return o;
}

}  // namespace spa::authd
