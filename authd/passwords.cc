#include "authd/passwords.h"

#include <argon2.h>

#include <algorithm>
#include <array>
#include <stdexcept>
#include <thread>

#include "authd/crypto.h"

namespace spa::authd {
namespace {

constexpr uint32_t kSaltBytes = 16, kHashBytes = 32;

// The most common passwords of 8 or more characters in public breach
// corpora; shorter ones are refused by length already.
constexpr std::array<std::string_view, 60> kCommon = {
    "password", "12345678", "123456789", "1234567890", "qwertyuiop", "11111111", "iloveyou", "password1",
    "password123", "qwerty123", "qwerty12", "1q2w3e4r", "1qaz2wsx", "zaq12wsx", "abcd1234", "abc12345",
    "welcome1", "welcome123", "sunshine", "princess", "football", "baseball", "starwars", "trustno1",
    "superman", "passw0rd", "p@ssw0rd", "p@ssword", "letmein1", "admin123", "administrator", "changeme",
    "12341234", "87654321", "00000000", "99999999", "88888888", "12121212", "123123123", "987654321",
    "qwertyui", "asdfghjkl", "zxcvbnm1", "iloveyou1", "sunshine1", "football1", "monkey123", "dragon123",
    "master123", "shadow123", "michael1", "jennifer", "computer", "whatever", "mustang1", "password!",
    "aa123456", "a1234567", "qazwsxedc", "1q2w3e4r5t",
};

size_t code_points(std::string_view s) {
  return static_cast<size_t>(std::count_if(s.begin(), s.end(), [](char c) { return (c & 0xc0) != 0x80; }));
}

}  // namespace

namespace {

std::ptrdiff_t cores() {
  unsigned n = std::thread::hardware_concurrency();
  return n == 0 ? 1 : std::min<std::ptrdiff_t>(n, 256);
}

// Holds one hashing slot for a scope.
class Slot {
 public:
  explicit Slot(std::counting_semaphore<256>& s) : s_(s) { s_.acquire(); }
  ~Slot() { s_.release(); }

 private:
  std::counting_semaphore<256>& s_;
};

}  // namespace

PasswordHasher::PasswordHasher(uint32_t memory_kib, uint32_t iterations, uint32_t parallelism)
    : memory_kib_(memory_kib), iterations_(iterations), parallelism_(parallelism), slots_(cores()) {
  dummy_ = hash(random_token());
}

std::string PasswordHasher::hash(std::string_view password) const {
  Slot slot(slots_);
  std::string salt = random_bytes(kSaltBytes);
  size_t len = argon2_encodedlen(iterations_, memory_kib_, parallelism_, kSaltBytes, kHashBytes, Argon2_id);
  std::string encoded(len, '\0');
  int rc = argon2id_hash_encoded(iterations_, memory_kib_, parallelism_, password.data(), password.size(),
                                 salt.data(), salt.size(), kHashBytes, encoded.data(), encoded.size());
  if (rc != ARGON2_OK) throw std::runtime_error(std::string("argon2: ") + argon2_error_message(rc));
  encoded.resize(std::char_traits<char>::length(encoded.c_str()));
  return encoded;
}

bool PasswordHasher::verify(std::string_view phc, std::string_view password) const {
  Slot slot(slots_);
  std::string encoded(phc);  // argon2 wants a NUL-terminated string
  return argon2id_verify(encoded.c_str(), password.data(), password.size()) == ARGON2_OK;
}

void PasswordHasher::verify_dummy(std::string_view password) const { (void)verify(dummy_, password); }

std::string fold(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::optional<std::string> password_problem(std::string_view password, std::string_view email,
                                            std::string_view username) {
  size_t n = code_points(password);
  if (n < 8) return "password must be at least 8 characters";
  if (n > 128 || password.size() > 512) return "password must be at most 128 characters";
  std::string folded = fold(password);
  if (std::find(kCommon.begin(), kCommon.end(), folded) != kCommon.end())
    return "password is too common";
  if (folded == fold(email) || folded == fold(username)) return "password must differ from e-mail and username";
  return std::nullopt;
}

bool valid_email(std::string_view email) {
  if (email.size() < 3 || email.size() > 254) return false;
  size_t at = email.find('@');
  if (at == std::string_view::npos || at == 0 || at > 64 || email.find('@', at + 1) != std::string_view::npos)
    return false;
  std::string_view local = email.substr(0, at), domain = email.substr(at + 1);
  const std::string_view special = "!#$%&'*+/=?^_`{|}~.-";
  for (char c : local)
    if (!std::isalnum(static_cast<unsigned char>(c)) && special.find(c) == std::string_view::npos) return false;
  if (local.front() == '.' || local.back() == '.' || local.find("..") != std::string_view::npos) return false;
  if (domain.size() < 3 || domain.find('.') == std::string_view::npos) return false;
  size_t label = 0;
  for (size_t i = 0; i <= domain.size(); ++i) {
    if (i == domain.size() || domain[i] == '.') {
      if (label == 0 || label > 63 || domain[i - 1] == '-' || domain[i - label] == '-') return false;
      label = 0;
    } else if (std::isalnum(static_cast<unsigned char>(domain[i])) || domain[i] == '-') {
      ++label;
    } else {
      return false;
    }
  }
  return true;
}

bool valid_username(std::string_view u) {
  if (u.size() < 3 || u.size() > 32 || !std::isalnum(static_cast<unsigned char>(u[0]))) return false;
  return std::all_of(u.begin(), u.end(), [](unsigned char c) { return std::isalnum(c) || c == '_' || c == '.' || c == '-'; });
}

}  // namespace spa::authd
