// The successor pair a rotated refresh record keeps sealed for the grace
// window (RefreshRecord::successor_box, authd/refresh_rotation.h): a
// second presentation of the old token within it gets this same pair.
// Sealed under a key derived from the old token, with its hash as
// associated data. Format 1:
//
//   {"access_token", "refresh_token", "expires_at" (the access token's)}
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace spa::authd {

struct RefreshSuccessor {
  static constexpr int kVersion = 1;

  std::string access_token;
  std::string refresh_token;
  std::optional<int64_t> expires_at;  // always written; its readers take different defaults
  nlohmann::json unknown = nlohmann::json::object();  // fields this format does not know, kept as they were

  std::string to_json() const;
  static std::optional<RefreshSuccessor> from_json(std::string_view text);
  nlohmann::json to_object() const;
  static std::optional<RefreshSuccessor> from_object(const nlohmann::json& j);
};

}  // namespace spa::authd
