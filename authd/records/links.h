// Mailed single-use links, stored as SHA-256 of their 256-bit token and
// indexed in user_records (kUserTables). Format 1:
//
//   reset_tokens   ResetLinkRecord  {"user", "expires_at"}           (30 minutes)
//   verify_tokens  VerifyLinkRecord {"user", "email", "expires_at"}  (24 hours; `email`:
//                                   the address it was mailed to, which it proves)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace spa::authd {

struct ResetLinkRecord {
  static constexpr int kVersion = 1;

  std::string user;
  int64_t expires_at = 0;
  nlohmann::json unknown = nlohmann::json::object();  // fields this format does not know, kept as they were

  std::string to_json() const;
  static std::optional<ResetLinkRecord> from_json(std::string_view text);
  nlohmann::json to_object() const;
  static std::optional<ResetLinkRecord> from_object(const nlohmann::json& j);
};

struct VerifyLinkRecord {
  static constexpr int kVersion = 1;

  std::string user;
  std::string email;
  int64_t expires_at = 0;
  nlohmann::json unknown = nlohmann::json::object();  // fields this format does not know, kept as they were

  std::string to_json() const;
  static std::optional<VerifyLinkRecord> from_json(std::string_view text);
  nlohmann::json to_object() const;
  static std::optional<VerifyLinkRecord> from_object(const nlohmann::json& j);
};

}  // namespace spa::authd
