#include "authd/totp.h"

#include <liboath/oath.h>

#include <cstdlib>
#include <mutex>

#include "authd/crypto.h"

namespace spa::authd::totp {
namespace {

void init_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (oath_init() != OATH_OK) std::abort();
  });
}

int flags_of(Hash h) {
  return h == Hash::kSha256 ? OATH_TOTP_HMAC_SHA256 : h == Hash::kSha512 ? OATH_TOTP_HMAC_SHA512 : 0;
}

// liboath asks "does this candidate equal the code?" for each step in the
// window; answer without leaking where they differ.
int constant_time_compare(void* handle, const char* candidate) {
  const auto* code = static_cast<const std::string*>(handle);
  return equal_secret(*code, candidate) ? 0 : 1;
}

std::string percent_encode(std::string_view s) {
  static const char* hexdigits = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || c == '@') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(hexdigits[c >> 4]);
      out.push_back(hexdigits[c & 15]);
    }
  }
  return out;
}

}  // namespace

std::string new_secret() { return random_bytes(20); }

std::string base32(std::string_view secret) {
  init_once();
  char* out = nullptr;
  size_t len = 0;
  if (oath_base32_encode(secret.data(), secret.size(), &out, &len) != OATH_OK) std::abort();
  std::string s(out, len);
  std::free(out);
  while (!s.empty() && s.back() == '=') s.pop_back();
  return s;
}

std::optional<std::string> from_base32(std::string_view text) {
  init_once();
  char* out = nullptr;
  size_t len = 0;
  if (oath_base32_decode(text.data(), text.size(), &out, &len) != OATH_OK) return std::nullopt;
  std::string s(out, len);
  std::free(out);
  return s;
}

std::string otpauth_uri(std::string_view issuer, std::string_view account, std::string_view secret) {
  return "otpauth://totp/" + percent_encode(issuer) + ":" + percent_encode(account) + "?secret=" + base32(secret) +
         "&issuer=" + percent_encode(issuer) + "&algorithm=SHA1&digits=" + std::to_string(kDigits) +
         "&period=" + std::to_string(kStepSeconds);
}

std::string generate(std::string_view secret, int64_t now, unsigned digits, Hash hash) {
  init_once();
  char otp[16] = {};
  if (oath_totp_generate2(secret.data(), secret.size(), static_cast<time_t>(now), kStepSeconds, 0, digits,
                          flags_of(hash), otp) != OATH_OK)
    return {};
  return otp;
}

std::optional<uint64_t> verify(std::string_view secret, std::string_view code, int64_t now) {
  init_once();
  if (code.size() != kDigits) return std::nullopt;
  for (char c : code)
    if (c < '0' || c > '9') return std::nullopt;
  std::string candidate(code);
  int position = 0;
  uint64_t step = 0;
  int rc = oath_totp_validate4_callback(secret.data(), secret.size(), static_cast<time_t>(now), kStepSeconds, 0,
                                        kDigits, kWindow, &position, &step, 0, constant_time_compare, &candidate);
  if (rc < 0) return std::nullopt;
  return step;
}

}  // namespace spa::authd::totp
