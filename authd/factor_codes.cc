#include "authd/factor_codes.h"

#include <cctype>

#include "authd/crypto.h"
#include "authd/totp.h"
#include "core/base64url.h"

namespace spa::authd {
namespace {

using json = nlohmann::json;

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

std::optional<std::string> FactorCodes::totp_secret(const json& u, const char* field) const {
  if (!u.contains("mfa")) return std::nullopt;
  std::string box;
  if (!core::base64url_decode(u["mfa"].value(field, ""), box)) return std::nullopt;
  return open_sealed(key_, box, "totp:" + u.value("id", ""));
}

std::string FactorCodes::backup_code_hash(const std::string& user_id, std::string_view code) const {
  // Keyed with the MFA key: a copy of the store alone does not let anyone
  // test guesses against the hashes.
  return hex(hmac_sha256(key_, "backup-code:" + user_id + ":" + normalize_backup_code(code)));
}

std::vector<std::string> FactorCodes::new_backup_codes(const std::string& user_id, json& mfa) const {
  static const char* alphabet = "abcdefghjkmnpqrstuvwxyz23456789";  // no 0/o, 1/l/i
  std::vector<std::string> codes;
  json hashes = json::array();
  for (int i = 0; i < kBackupCodes; ++i) {
    std::string raw = random_bytes(8), code;
    for (size_t j = 0; j < raw.size(); ++j) {
      if (j == 4) code.push_back('-');
      code.push_back(alphabet[static_cast<unsigned char>(raw[j]) % 31]);
    }
    hashes.push_back(backup_code_hash(user_id, code));
    codes.push_back(code);
  }
  mfa["backup"] = hashes;
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

std::string FactorCodes::new_action_code(json& u, int64_t now) const {
  std::string hash;
  std::string code = new_email_code(u.value("id", ""), hash);
  u["mfa"]["email_code"] = {{"hash", hash}, {"expires_at", now + kEmailCodeTtl}};
  return code;
}

bool FactorCodes::take_action_code(json& u, std::string_view code, int64_t now) const {
  if (!u.contains("mfa") || !u["mfa"].contains("email_code")) return false;
  const json& c = u["mfa"]["email_code"];
  bool good = c.value("expires_at", int64_t{0}) > now &&
              equal_secret(c.value("hash", ""), email_code_hash(u.value("id", ""), code));
  if (good) u["mfa"].erase("email_code");  // single use
  return good;
}

bool FactorCodes::take_second_factor(json& u, const std::string& code, bool backup, int64_t now) const {
  if (!u.contains("mfa") || !u["mfa"].value("enabled", false)) return false;
  json& mfa = u["mfa"];
  std::string id = u.value("id", "");
  if (backup) {
    // Single use: the matching hash leaves the list. Every entry is
    // compared, so the time does not tell which one matched.
    std::string h = backup_code_hash(id, code);
    json remaining = json::array();
    bool good = false;
    for (const auto& stored : mfa.value("backup", json::array())) {
      bool match = stored.is_string() && equal_secret(stored.get<std::string>(), h);
      if (match && !good) good = true;
      else remaining.push_back(stored);
    }
    if (good) mfa["backup"] = remaining;
    return good;
  }
  if (mfa.value("method", "totp") == "email") return take_action_code(u, code, now);
  auto secret = totp_secret(u, "secret");
  if (!secret) return false;
  auto step = totp::verify(*secret, code, now);
  // A code accepted once (this step or an earlier one) is spent.
  if (!step || *step <= mfa.value("last_step", uint64_t{0})) return false;
  mfa["last_step"] = *step;
  return true;
}

}  // namespace spa::authd
