// The secrets of a second factor, in one place: TOTP seeds sealed at rest,
// backup codes and e-mailed codes stored as hashes keyed with the MFA key
// ([mfa] secret_key_file), so a copy of the store alone lets nobody test
// guesses. Pure over a user record (UserRecord::Mfa) and the time:
// the lockout, the store and the mail are the callers' (SessionIssuer's
// second-factor gate, SecondFactorService, CredentialService's
// re-authentication).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "authd/records/user.h"

namespace spa::authd {

class FactorCodes {
 public:
  // An e-mailed code (sign-in or account action) is good for this long, once.
  static constexpr int64_t kEmailCodeTtl = 600;
  static constexpr int kBackupCodes = 10;

  // `mfa_key`: 32 bytes; not copied, it must outlive this.
  explicit FactorCodes(const std::string& mfa_key) : key_(mfa_key) {}

  // A TOTP seed sealed for the user record (base64url), and opened from
  // it (Mfa::pending until enabled, then Mfa::secret); nullopt when there
  // is none or it does not open.
  std::string seal_totp(const std::string& user_id, const std::string& secret) const;
  std::optional<std::string> open_totp(const std::string& user_id, const std::optional<std::string>& sealed) const;

  // kBackupCodes fresh codes, shown once; their hashes replace mfa.backup.
  std::vector<std::string> new_backup_codes(const std::string& user_id, UserRecord::Mfa& mfa) const;

  std::string email_code_hash(const std::string& user_id, std::string_view code) const;
  // A fresh 6-digit code for `user_id`; `hash` is what gets stored.
  std::string new_email_code(const std::string& user_id, std::string& hash) const;
  // A fresh code for account actions, kept in user.mfa->email_code (the
  // callers have set up an mfa); the caller mails it after the transaction commits.
  std::string new_action_code(UserRecord& user, int64_t now) const;
  // The action code, unexpired; spent when it matches.
  bool take_action_code(UserRecord& user, std::string_view code, int64_t now) const;

  // A second factor for an account action: a current TOTP code (unspent;
  // the step is recorded), an e-mailed action code, or (`backup`) a backup
  // code, which is spent. Changes `user`; the caller saves it.
  bool take_second_factor(UserRecord& user, const std::string& code, bool backup, int64_t now) const;

 private:
  std::string backup_code_hash(const std::string& user_id, std::string_view code) const;

  const std::string& key_;
};

}  // namespace spa::authd
