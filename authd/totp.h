// TOTP (RFC 6238) through liboath: secrets, otpauth URIs, verification that
// reports the matched time step so callers can refuse a replayed code.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace spa::authd::totp {

inline constexpr unsigned kDigits = 6;
inline constexpr unsigned kStepSeconds = 30;
inline constexpr size_t kWindow = 1;  // the current step and one either side

enum class Hash { kSha1, kSha256, kSha512 };

std::string new_secret();                        // 20 random bytes (RFC 4226's recommended length)
std::string base32(std::string_view secret);     // RFC 4648, no padding, as authenticator apps expect
std::optional<std::string> from_base32(std::string_view text);

// otpauth://totp/ISSUER:ACCOUNT?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30
std::string otpauth_uri(std::string_view issuer, std::string_view account, std::string_view secret);

// The code for `now` (tests and tools).
std::string generate(std::string_view secret, int64_t now, unsigned digits = kDigits, Hash hash = Hash::kSha1);

// The time step `code` matches within the window around `now`, compared in
// constant time; nullopt when it matches none.
std::optional<uint64_t> verify(std::string_view secret, std::string_view code, int64_t now);

}  // namespace spa::authd::totp
