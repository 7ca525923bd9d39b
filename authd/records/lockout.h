// Failed secrets per e-mail address (lockouts database, keyed by
// HMAC(mfa key, "lockout:" + folded address), so the store holds no
// address of a stranger; the same record exists for addresses without an
// account). Format 1:
//
//   {"failures" (in a row, since the last lockout), "lockouts" (so far;
//    each doubles the next), "locked_until", "expires_at" (forgotten then;
//    swept)}
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace spa::authd {

struct LockoutRecord {
  static constexpr int kVersion = 1;

  int failures = 0;
  int lockouts = 0;
  int64_t locked_until = 0;
  int64_t expires_at = 0;
  nlohmann::json unknown = nlohmann::json::object();  // fields this format does not know, kept as they were

  std::string to_json() const;
  static std::optional<LockoutRecord> from_json(std::string_view text);
  nlohmann::json to_object() const;
  static std::optional<LockoutRecord> from_object(const nlohmann::json& j);
};

}  // namespace spa::authd
