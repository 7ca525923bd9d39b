#include "authd/factor_codes.h"

#include <cctype>

#include "authd/crypto.h"
#include "authd/totp.h"
#include "core/base64url.h"

namespace spa::authd {
namespace {

std::string six_digits() {
  std::string raw = random_bytes(4);
  uint32_t n = 0;
  for (char c : raw) n = (n << 8) | static_cast<unsigned char>(c);
  std::string s = std::to_string(n % 1000000);
  return std::string(6 - s.size(), '0') + s;
}

std::string normalize_backup_code(std::string_view code) {
  std::string out;
  for (char c : code)
    if (c != '-' && c != ' ') out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return out;
}

}  // namespace

std::string FactorCodes::seal_totp(const std::string& user_id, const std::string& secret) const {
  return core::base64url_encode(seal(key_, secret, "totp:" + user_id));
}

std::optional<std::string> FactorCodes::open_totp(const std::string& user_id,
                                                  const std::optional<std::string>& sealed) const {
  std::string box;
  if (!sealed || !core::base64url_decode(*sealed, box)) return std::nullopt;
  return open_sealed(key_, box, "totp:" + user_id);
}

std::string FactorCodes::backup_code_hash(const std::string& user_id, std::string_view code) const {
  // Keyed with the MFA key: a copy of the store alone does not let anyone
  // test guesses against the hashes.
  return hex(hmac_sha256(key_, "backup-code:" + user_id + ":" + normalize_backup_code(code)));
}

std::vector<std::string> FactorCodes::new_backup_codes(const std::string& user_id, UserRecord::Mfa& mfa) const {
  static const char* alphabet = "abcdefghjkmnpqrstuvwxyz23456789";  // no 0/o, 1/l/i
  std::vector<std::string> codes, hashes;
  for (int i = 0; i < kBackupCodes; ++i) {
    std::string raw = random_bytes(8), code;
    for (size_t j = 0; j < raw.size(); ++j) {
      if (j == 4) code.push_back('-');
      code.push_back(alphabet[static_cast<unsigned char>(raw[j]) % 31]);
    }
    hashes.push_back(backup_code_hash(user_id, code));
    codes.push_back(code);
  }
  mfa.backup = hashes;
  return codes;
}

std::string FactorCodes::email_code_hash(const std::string& user_id, std::string_view code) const {
  return hex(hmac_sha256(key_, "email-code:" + user_id + ":" + std::string(code)));
}

std::string FactorCodes::new_email_code(const std::string& user_id, std::string& hash) const {
  std::string code = six_digits();
  hash = email_code_hash(user_id, code);
  return code;
}

std::string FactorCodes::new_action_code(UserRecord& u, int64_t now) const {
  std::string hash;
  std::string code = new_email_code(u.id, hash);
  if (!u.mfa) u.mfa.emplace();
  UserRecord::EmailCode c;
  c.hash = hash;
  c.expires_at = now + kEmailCodeTtl;
  u.mfa->email_code = c;
  return code;
}

bool FactorCodes::take_action_code(UserRecord& u, std::string_view code, int64_t now) const {
  if (!u.mfa || !u.mfa->email_code) return false;
  const UserRecord::EmailCode& c = *u.mfa->email_code;
  bool good = c.expires_at > now && equal_secret(c.hash, email_code_hash(u.id, code));
  if (good) u.mfa->email_code.reset();  // single use
  return good;
}

bool FactorCodes::take_second_factor(UserRecord& u, const std::string& code, bool backup, int64_t now) const {
  if (!u.mfa_enabled()) return false;
  UserRecord::Mfa& mfa = *u.mfa;
  if (backup) {
    // Single use: the matching hash leaves the list. Every entry is
    // compared, so the time does not tell which one matched.
    std::string h = backup_code_hash(u.id, code);
    std::vector<std::string> remaining;
    bool good = false;
    for (const auto& stored : mfa.backup.value_or(std::vector<std::string>{})) {
      bool match = equal_secret(stored, h);
      if (match && !good) good = true;
      else remaining.push_back(stored);
    }
    if (good) mfa.backup = remaining;
    return good;
  }
  if (mfa.email_method()) return take_action_code(u, code, now);
  auto secret = open_totp(u.id, mfa.secret);
  if (!secret) return false;
  auto step = totp::verify(*secret, code, now);
  // A code accepted once (this step or an earlier one) is spent.
  if (!step || *step <= mfa.last_step.value_or(0)) return false;
  mfa.last_step = *step;
  return true;
}

}  // namespace spa::authd
