// Accounts behind OAuth/OIDC logins (IdentityService): find, link by
// verified e-mail, or create; then the same second-factor gate as a
// password login. The protocol itself (state, PKCE, code exchange, ID
// token) is authd/oauth.cc.
//
// A user record lists its identities in "identities" [{provider, subject,
// email, linked_at}]; the identities database indexes them. An account made
// by a provider has an empty "password" until the user sets one by reset.
#include <cctype>

#include "authd/crypto.h"
#include "authd/identity_service.h"
#include "authd/passwords.h"
#include "core/utf8.h"

namespace spa::authd {
namespace {

using json = nlohmann::json;

bool has_provider(const json& u, const std::string& provider) {
  for (const auto& i : identities_of(u))
    if (i.value("provider", "") == provider) return true;
  return false;
}

void add_identity(json& u, const ExternalIdentity& id, int64_t now) {
  json list = identities_of(u);
  // The provider's address as it said it (kept for the user to see), bounded.
  list.push_back({{"provider", id.provider}, {"subject", id.subject}, {"email", core::utf8_clip(id.email, 254)},
                  {"linked_at", now}});
  u["identities"] = list;
}

// A username from what the provider calls the user: letters, digits and
// "_.-" only; "user" when too little is left.
std::string username_base(const ExternalIdentity& id) {
  std::string hint = id.username_hint.empty() ? id.email.substr(0, id.email.find('@')) : id.username_hint;
  std::string out;
  for (char c : hint) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '_' || c == '.' || c == '-') out += static_cast<char>(std::tolower(u));
    if (out.size() >= 24) break;
  }
  return valid_username(out) ? out : "user";
}

}  // namespace

Outcome IdentityService::oauth_sign_in(const ExternalIdentity& ext, const ClientInfo& client) {
  int64_t now = issuer_.now();
  Outcome result;
  std::string mailed_code, mail_to, err;
  bool ok = store_.write(
      [&](Store::Txn& t) {
        std::optional<json> user;
        if (auto id = t.get(Db::kIdentities, identity_key(ext.provider, ext.subject)))
          user = load_json(t, Db::kUsers, *id);
        if (!user) {
          if (!valid_email(ext.email)) {
            result = Outcome::error(Errc::kEmailRequired, "the provider did not give an e-mail address");
            return false;
          }
          // An address the provider did not verify: no account is made
          // for it (it would squat the address) nor found by it (anyone
          // could claim an account by registering its e-mail somewhere).
          // One answer either way, so it tells nothing about accounts.
          if (!ext.email_verified && config_.require_verified_email) {
            result = Outcome::error(Errc::kEmailNotVerified, "the provider has not verified this e-mail address");
            return false;
          }
          if (auto id = t.get(Db::kUsersByEmail, fold(ext.email))) {
            if (!ext.email_verified) {
              result = Outcome::error(Errc::kAccountExists,
                                      "an account with this e-mail exists; sign in and link the provider");
              return false;
            }
            user = load_json(t, Db::kUsers, *id);
            if (!user) {
              result = store_failure("user index points nowhere");
              return false;
            }
            // Nobody proved this address for the account (a sign-up by
            // password only claims it): the provider's verified user owns
            // it, and whatever else was set up to reach it goes.
            if (!user->value("email_verified", false) && !issuer_.claim_unverified_account(t, *user, client, now))
              return false;
            issuer_.audit(t, "oauth_linked_by_email", *user, client, now);
          } else {
            std::string base = username_base(ext), name = base;
            for (int attempt = 0; t.get(Db::kUsersByName, fold(name)); ++attempt) {
              if (attempt == 8) {
                result = store_failure("no free username");
                return false;
              }
              name = base.substr(0, 24) + "-" + random_hex_id().substr(0, 6);
            }
            user = json{{"id", random_hex_id()},  {"email", ext.email},    {"username", name},
                        {"password", ""},         {"role", "user"},        {"disabled", false},
                        {"created_at", now},      {"updated_at", now},     {"audit_id", random_hex_id()},
                        {"email_verified", ext.email_verified}};
            std::string uid = (*user)["id"];
            if (!t.put(Db::kUsersByEmail, fold(ext.email), uid) || !t.put(Db::kUsersByName, fold(name), uid))
              return false;
            issuer_.audit(t, "signup_oauth", *user, client, now);
          }
          add_identity(*user, ext, now);
          if (!t.put(Db::kIdentities, identity_key(ext.provider, ext.subject), (*user)["id"].get<std::string>()))
            return false;
        }
        if (user->value("disabled", false)) {
          result = Outcome::error(Errc::kAccountDisabled, "this account is disabled");
          return false;
        }
        return issuer_.finish_first_factor(t, *user, json::array({"oauth"}), "login_oauth", client, now, result,
                                           mailed_code, mail_to);
      },
      err);
  if (!ok && !err.empty()) return store_failure(err);
  if (ok && !mailed_code.empty()) issuer_.mail_code(mail_to, mailed_code);
  return result;
}

Outcome IdentityService::oauth_link(const std::string& user_id, const std::string& sid, const ExternalIdentity& ext,
                                    const ClientInfo& client) {
  int64_t now = issuer_.now();
  Outcome result;
  std::string err;
  bool ok = store_.write(
      [&](Store::Txn& t) {
        auto u = load_json(t, Db::kUsers, user_id);
        auto session = load_session(t, sid);
        bool own = t.get(Db::kUserSessions, user_id + ":" + sid).has_value();
        if (!u || u->value("disabled", false) || !session || !own || !session->valid_at(now)) {
          result = Outcome::error(Errc::kInvalidToken, "the account is gone or disabled, or the session has ended");
          return false;
        }
        std::string key = identity_key(ext.provider, ext.subject);
        if (auto owner = t.get(Db::kIdentities, key)) {
          if (*owner != user_id)
            result = Outcome::error(Errc::kIdentityInUse, "this provider account belongs to another user");
          else
            result.data = {{"linked", ext.provider}};
          return false;  // already linked to this user: nothing to change
        }
        if (has_provider(*u, ext.provider)) {
          result = Outcome::error(Errc::kProviderAlreadyLinked, "unlink the other account of this provider first");
          return false;
        }
        add_identity(*u, ext, now);
        (*u)["updated_at"] = now;
        issuer_.audit(t, "oauth_linked", *u, client, now);
        result.data = {{"linked", ext.provider}};
        return t.put(Db::kIdentities, key, user_id) && t.put(Db::kUsers, user_id, u->dump());
      },
      err);
  if (!ok && !err.empty()) return store_failure(err);
  return result;
}

Outcome IdentityService::oauth_unlink(const Principal& who, const std::string& provider, const ClientInfo& client) {
  if (auto stale = issuer_.require_recent_auth(who)) return *stale;
  int64_t now = issuer_.now();
  Outcome result;
  std::string err;
  bool ok = store_.write(
      [&](Store::Txn& t) {
        auto u = load_json(t, Db::kUsers, who.user_id);
        if (!u) {
          result = Outcome::error(Errc::kInvalidToken, "account no longer exists");
          return false;
        }
        json kept = json::array();
        std::string subject;
        for (const auto& i : identities_of(*u)) {
          if (i.value("provider", "") == provider) subject = i.value("subject", "");
          else kept.push_back(i);
        }
        if (subject.empty()) {
          result = Outcome::error(Errc::kNotLinked, "no account of this provider is linked");
          return false;
        }
        if (u->value("password", "").empty() && kept.empty()) {
          result = Outcome::error(Errc::kLastSignInMethod,
                                  "this is the only way to sign in; set a password or link another provider first");
          return false;
        }
        (*u)["identities"] = kept;
        (*u)["updated_at"] = now;
        issuer_.audit(t, "oauth_unlinked", *u, client, now);
        result.data = {{"unlinked", provider}};
        return t.del(Db::kIdentities, identity_key(provider, subject)) && t.put(Db::kUsers, who.user_id, u->dump());
      },
      err, Store::WriteKind::kRevocation);  // removing a way in must work in a full store
  if (!ok && !err.empty()) return store_failure(err);
  return result;
}

}  // namespace spa::authd
