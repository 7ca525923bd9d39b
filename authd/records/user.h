// The user record (users database, keyed by the user id in hex): the
// account, its ways in (password, provider identities, second factor) and
// what proves them. Format 1, as the services write it ("?": absent until
// set; absent and empty differ in the bytes):
//
//   {"id", "email", "username", "password" (Argon2id PHC; "" for an account
//    a provider made), "role" ("user" | "admin"), "disabled", "created_at",
//    "updated_at", "audit_id" (the opaque id of its audit events),
//    "email_verified"?, "email_verified_at"?, "unverified_erase_at"? (made
//    under require_verified_email and not yet confirmed), "credential_epoch"?
//    (AuthService::new_credentials), "identities"? [Identity], "mfa"? Mfa}
//
// Records from before e-mail verification lack email_verified; those from
// before the lockouts table carry failed_logins, lockouts, locked_until,
// kept as unknown fields.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "authd/records/json_fields.h"

namespace spa::authd {

// {"provider", "subject", "email" (as the provider said it, clipped;
// kept for the user to see), "linked_at"}
struct UserIdentity : records::JsonObject<UserIdentity> {
  std::string provider;
  std::string subject;
  std::string email;
  int64_t linked_at = 0;

  // Its key in the identities database (-> the user id).
  std::string key() const { return provider + ":" + subject; }
  template <class Self, class Fields>
  static void fields(Self& r, Fields& f) {
    f("provider", r.provider);
    f("subject", r.subject);
    f("email", r.email);
    f("linked_at", r.linked_at);
  }
};

// A code mailed for an account action: {"hash" (keyed, of the 6 digits), "expires_at"}
struct UserEmailCode : records::JsonObject<UserEmailCode> {
  std::string hash;
  int64_t expires_at = 0;

  template <class Self, class Fields>
  static void fields(Self& r, Fields& f) {
    f("hash", r.hash);
    f("expires_at", r.expires_at);
  }
};

// {"enabled", "method"? ("email"; absent: TOTP), "pending"? (a TOTP
//  secret sealed, until /mfa/enable proves it), "secret"? (the TOTP
//  secret sealed), "last_step"? (a TOTP step at or before it is spent),
//  "enabled_at"?, "backup"? [keyed hashes of unspent backup codes],
//  "email_code"? EmailCode}
struct UserMfa : records::JsonObject<UserMfa> {
  bool enabled = false;
  std::optional<std::string> method;
  std::optional<std::string> pending;
  std::optional<std::string> secret;
  std::optional<uint64_t> last_step;
  std::optional<int64_t> enabled_at;
  std::optional<std::vector<std::string>> backup;
  std::optional<UserEmailCode> email_code;

  bool email_method() const { return method.value_or("totp") == "email"; }
  template <class Self, class Fields>
  static void fields(Self& r, Fields& f) {
    f("enabled", r.enabled);
    f("method", r.method);
    f("pending", r.pending);
    f("secret", r.secret);
    f("last_step", r.last_step);
    f("enabled_at", r.enabled_at);
    f("backup", r.backup);
    f("email_code", r.email_code);
  }
};

struct UserRecord : records::JsonRecord<UserRecord> {
  static constexpr int kVersion = 1;

  // Defined at namespace scope (clang cannot default-construct a nested
  // class with member initializers inside std::optional while the
  // enclosing class is being defined).
  using Identity = UserIdentity;
  using EmailCode = UserEmailCode;
  using Mfa = UserMfa;

  std::string id;
  std::string email;
  std::string username;
  std::string password;
  std::string role = "user";
  bool disabled = false;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  std::string audit_id;
  std::optional<bool> email_verified;
  std::optional<int64_t> email_verified_at;
  std::optional<int64_t> unverified_erase_at;
  std::optional<int64_t> credential_epoch;
  std::optional<std::vector<Identity>> identities;
  std::optional<Mfa> mfa;

  bool verified() const { return email_verified.value_or(false); }
  bool mfa_enabled() const { return mfa && mfa->enabled; }
  int64_t epoch() const { return credential_epoch.value_or(0); }
  // When PrivacyService::sweep_unverified erases the account: made under
  // require_verified_email, its address never proven and no provider
  // linked; nullopt for every other account (the unverified index).
  std::optional<int64_t> unverified_sweep_at() const {
    if (verified() || !unverified_erase_at || (identities && !identities->empty())) return std::nullopt;
    return unverified_erase_at;
  }

  // The user as the API shows it (every answer with a user): never the
  // password hash, secrets or counters.
  nlohmann::json public_view() const;

  template <class Self, class Fields>
  static void fields(Self& r, Fields& f) {
    f("id", r.id);
    f("email", r.email);
    f("username", r.username);
    f("password", r.password);
    f("role", r.role);
    f("disabled", r.disabled);
    f("created_at", r.created_at);
    f("updated_at", r.updated_at);
    f("audit_id", r.audit_id);
    f("email_verified", r.email_verified);
    f("email_verified_at", r.email_verified_at);
    f("unverified_erase_at", r.unverified_erase_at);
    f("credential_epoch", r.credential_epoch);
    f("identities", r.identities);
    f("mfa", r.mfa);
  }
};

}  // namespace spa::authd
