// The user record (users database, keyed by the user id in hex): the
// account, its ways in (password, provider identities, second factor) and
// what proves them. Format 1, as the services write it:
//
//   {"id", "email", "username", "password" (Argon2id PHC; "" for an account
//    a provider made), "role" ("user" | "admin"), "disabled", "created_at",
//    "updated_at", "audit_id" (the opaque id of its audit events),
//    "email_verified"?, "email_verified_at"?, "unverified_erase_at"? (made
//    under require_verified_email and not yet confirmed), "credential_epoch"?
//    (AuthService::new_credentials), "identities"? [{"provider", "subject",
//    "email", "linked_at"}], "mfa"? {"enabled", "method"? ("email"; absent:
//    TOTP), "pending"? (a TOTP secret sealed, until /mfa/enable), "secret"?
//    (the TOTP secret sealed), "last_step"? (the last TOTP step taken),
//    "enabled_at"?, "backup"? [keyed hashes of unspent backup codes],
//    "email_code"? {"hash", "expires_at"} (a mailed action code)}}
//
// ("?": absent until set; absent and empty are not the same in the bytes.)
// Records from before e-mail verification lack email_verified; those from
// before the lockouts table carry failed_logins, lockouts, locked_until,
// kept as unknown fields.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace spa::authd {

struct UserRecord {
  static constexpr int kVersion = 1;

  struct Identity {
    std::string provider;
    std::string subject;
    std::string email;  // as the provider said it, clipped (kept for the user to see)
    int64_t linked_at = 0;
    nlohmann::json unknown = nlohmann::json::object();

    // Its key in the identities database (-> the user id).
    std::string key() const { return provider + ":" + subject; }
    nlohmann::json to_object() const;
    static std::optional<Identity> from_object(const nlohmann::json& j);
  };

  struct EmailCode {
    std::string hash;  // keyed hash of the 6 digits
    int64_t expires_at = 0;
    nlohmann::json unknown = nlohmann::json::object();

    nlohmann::json to_object() const;
    static std::optional<EmailCode> from_object(const nlohmann::json& j);
  };

  struct Mfa {
    bool enabled = false;
    std::optional<std::string> method;      // "email"; absent: TOTP
    std::optional<std::string> pending;     // sealed TOTP secret awaiting /mfa/enable (base64url)
    std::optional<std::string> secret;      // sealed TOTP secret (base64url)
    std::optional<uint64_t> last_step;      // a TOTP step at or before it is spent
    std::optional<int64_t> enabled_at;
    std::optional<std::vector<std::string>> backup;  // hex keyed hashes of unspent backup codes
    std::optional<EmailCode> email_code;
    nlohmann::json unknown = nlohmann::json::object();

    bool email_method() const { return method.value_or("totp") == "email"; }
    nlohmann::json to_object() const;
    static std::optional<Mfa> from_object(const nlohmann::json& j);
  };

  std::string id;
  std::string email;
  std::string username;
  std::string password;  // PHC string; "" when the account has none
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
  nlohmann::json unknown = nlohmann::json::object();  // fields this format does not know, kept as they were

  bool verified() const { return email_verified.value_or(false); }
  bool mfa_enabled() const { return mfa && mfa->enabled; }
  int64_t epoch() const { return credential_epoch.value_or(0); }

  // The stored text, byte for byte what the services' user.dump() wrote.
  std::string to_json() const;
  // nullopt: not JSON, not an object, another format, or a field of the wrong type.
  static std::optional<UserRecord> from_json(std::string_view text);
  nlohmann::json to_object() const;
  static std::optional<UserRecord> from_object(const nlohmann::json& j);

  // The user as the API shows it (AuthService's public_user): never the
  // password hash, secrets or counters.
  nlohmann::json public_view() const;
};

}  // namespace spa::authd
