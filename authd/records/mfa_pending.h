// A login waiting for its second factor (mfa_pending database, keyed by
// SHA-256 of the mfa_token the client holds; indexed in user_records).
// Format 1:
//
//   {"user", "expires_at", "attempts" (wrong codes so far), "amr"? (the
//    first factor: ["pwd"] or ["oauth"]), "epoch"? (the account's
//    credential epoch when the first factor passed), "email_code"? (keyed
//    hash of the code mailed for this login, e-mail method)}
//
// Records from before amr and epoch lack them (["pwd"] and 0 then).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace spa::authd {

struct MfaPendingRecord {
  static constexpr int kVersion = 1;

  std::string user;
  int64_t expires_at = 0;
  int attempts = 0;
  std::optional<std::vector<std::string>> amr;
  std::optional<int64_t> epoch;
  std::optional<std::string> email_code;
  nlohmann::json unknown = nlohmann::json::object();  // fields this format does not know, kept as they were

  std::string to_json() const;
  static std::optional<MfaPendingRecord> from_json(std::string_view text);
  nlohmann::json to_object() const;
  static std::optional<MfaPendingRecord> from_object(const nlohmann::json& j);
};

}  // namespace spa::authd
