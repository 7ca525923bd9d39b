// Accounts behind OAuth/OIDC logins (IdentityService): find, link by
// verified e-mail, or create; then the same second-factor gate as a
// password login. The protocol itself (state, PKCE, code exchange, ID
// token) is authd/oauth.cc.
//
// A user record lists its identities (UserRecord::identities, {provider,
// subject, email, linked_at}); the identities database indexes them. An account made
// by a provider has an empty "password" until the user sets one by reset.
#include <cctype>

#include "authd/crypto.h"
#include "authd/identity_service.h"
#include "authd/passwords.h"
#include "core/utf8.h"

namespace spa::authd {
namespace {

using Identities = std::vector<UserRecord::Identity>;

bool has_provider(const UserRecord& u, const std::string& provider) {
  for (const auto& i : u.identities.value_or(Identities{}))
    if (i.provider == provider) return true;
  return false;
}

UserRecord::Identity identity_of(const ExternalIdentity& id, int64_t now) {
  UserRecord::Identity i;
  i.provider = id.provider;
  i.subject = id.subject;
  i.email = core::utf8_clip(id.email, 254);  // as the provider said it (kept for the user to see), bounded
  i.linked_at = now;
  return i;
}

void add_identity(UserRecord& u, const ExternalIdentity& id, int64_t now) {
  if (!u.identities) u.identities.emplace();
  u.identities->push_back(identity_of(id, now));
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
  std::string mailed_code, mail_to;
  const std::string identity = identity_of(ext, now).key();
  Error e = store_.transact([&](Store::Txn& t) {
    std::optional<UserRecord> user;
    if (auto id = t.get(Db::kIdentities, identity)) user = load_user(t, *id);
    if (!user) {
      if (!valid_email(ext.email)) {
        result = Outcome::error(Errc::kEmailRequired, "the provider did not give an e-mail address");
        return TxnEnd::kAbort;
      }
      // An address the provider did not verify: no account is made
      // for it (it would squat the address) nor found by it (anyone
      // could claim an account by registering its e-mail somewhere).
      // One answer either way, so it tells nothing about accounts.
      if (!ext.email_verified && config_.require_verified_email) {
        result = Outcome::error(Errc::kEmailNotVerified, "the provider has not verified this e-mail address");
        return TxnEnd::kAbort;
      }
      if (auto id = t.get(Db::kUsersByEmail, fold(ext.email))) {
        if (!ext.email_verified) {
          result = Outcome::error(Errc::kAccountExists,
                                  "an account with this e-mail exists; sign in and link the provider");
          return TxnEnd::kAbort;
        }
        user = load_user(t, *id);
        if (!user) {
          result = store_failure({Errc::kStoreFailed, "user index points nowhere"});
          return TxnEnd::kAbort;
        }
        // Nobody proved this address for the account (a sign-up by
        // password only claims it): the provider's verified user owns
        // it, and whatever else was set up to reach it goes.
        if (!user->verified() && !issuer_.claim_unverified_account(t, *user, client, now)) return TxnEnd::kAbort;
        issuer_.audit(t, "oauth_linked_by_email", *user, client, now);
      } else {
        std::string base = username_base(ext), name = base;
        for (int attempt = 0; t.get(Db::kUsersByName, fold(name)); ++attempt) {
          if (attempt == 8) {
            result = store_failure({Errc::kStoreFailed, "no free username"});
            return TxnEnd::kAbort;
          }
          name = base.substr(0, 24) + "-" + random_hex_id().substr(0, 6);
        }
        user.emplace();
        user->id = random_hex_id();
        user->email = ext.email;
        user->username = name;
        user->password = "";
        user->created_at = now;
        user->updated_at = now;
        user->audit_id = random_hex_id();
        user->email_verified = ext.email_verified;
        if (!t.put(Db::kUsersByEmail, fold(ext.email), user->id) || !t.put(Db::kUsersByName, fold(name), user->id))
          return TxnEnd::kAbort;
        issuer_.audit(t, "signup_oauth", *user, client, now);
      }
      add_identity(*user, ext, now);
      if (!t.put(Db::kIdentities, identity, user->id)) return TxnEnd::kAbort;
    }
    if (user->disabled) {
      result = Outcome::error(Errc::kAccountDisabled, "this account is disabled");
      return TxnEnd::kAbort;
    }
    return commit_if(
        issuer_.finish_first_factor(t, *user, {"oauth"}, "login_oauth", client, now, result, mailed_code, mail_to));
  });
  if (!e.ok()) return store_failure(e);
  if (!mailed_code.empty()) issuer_.mail_code(mail_to, mailed_code);
  return result;
}

Outcome IdentityService::oauth_link(const std::string& user_id, const std::string& sid, const ExternalIdentity& ext,
                                    const ClientInfo& client) {
  int64_t now = issuer_.now();
  Outcome result;
  Error e = store_.transact([&](Store::Txn& t) {
    auto u = load_user(t, user_id);
    auto session = load_session(t, sid);
    bool own = t.get(Db::kUserSessions, user_id + ":" + sid).has_value();
    if (!u || u->disabled || !session || !own || !session->valid_at(now)) {
      result = Outcome::error(Errc::kInvalidToken, "the account is gone or disabled, or the session has ended");
      return TxnEnd::kAbort;
    }
    std::string key = identity_of(ext, now).key();
    if (auto owner = t.get(Db::kIdentities, key)) {
      if (*owner != user_id)
        result = Outcome::error(Errc::kIdentityInUse, "this provider account belongs to another user");
      else
        result.data = {{"linked", ext.provider}};
      return TxnEnd::kAbort;  // already linked to this user: nothing to change
    }
    if (has_provider(*u, ext.provider)) {
      result = Outcome::error(Errc::kProviderAlreadyLinked, "unlink the other account of this provider first");
      return TxnEnd::kAbort;
    }
    add_identity(*u, ext, now);
    u->updated_at = now;
    issuer_.audit(t, "oauth_linked", *u, client, now);
    result.data = {{"linked", ext.provider}};
    return commit_if(t.put(Db::kIdentities, key, user_id) && save_user(t, *u));
  });
  return e.ok() ? result : store_failure(e);
}

Outcome IdentityService::oauth_unlink(const Principal& who, const std::string& provider, const ClientInfo& client) {
  if (auto stale = issuer_.require_recent_auth(who)) return *stale;
  int64_t now = issuer_.now();
  Outcome result;
  Error e = store_.transact(
      [&](Store::Txn& t) {
        auto u = load_user(t, who.user_id);
        if (!u) {
          result = Outcome::error(Errc::kInvalidToken, "account no longer exists");
          return TxnEnd::kAbort;
        }
        Identities kept;
        std::optional<UserRecord::Identity> gone;
        for (const auto& i : u->identities.value_or(Identities{})) {
          if (i.provider == provider) gone = i;
          else kept.push_back(i);
        }
        if (!gone || gone->subject.empty()) {
          result = Outcome::error(Errc::kNotLinked, "no account of this provider is linked");
          return TxnEnd::kAbort;
        }
        if (u->password.empty() && kept.empty()) {
          result = Outcome::error(Errc::kLastSignInMethod,
                                  "this is the only way to sign in; set a password or link another provider first");
          return TxnEnd::kAbort;
        }
        u->identities = kept;
        u->updated_at = now;
        issuer_.audit(t, "oauth_unlinked", *u, client, now);
        result.data = {{"unlinked", provider}};
        return commit_if(t.del(Db::kIdentities, gone->key()) && save_user(t, *u));
      },
      Store::WriteKind::kRevocation);  // removing a way in must work in a full store
  return e.ok() ? result : store_failure(e);
}

}  // namespace spa::authd
