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

#include "authd/records/json_fields.h"

namespace spa::authd {

struct RefreshSuccessor : records::JsonRecord<RefreshSuccessor> {
  static constexpr int kVersion = 1;

  std::string access_token;
  std::string refresh_token;
  std::optional<int64_t> expires_at;  // always written; its readers take different defaults

  template <class Self, class Fields>
  static void fields(Self& r, Fields& f) {
    f("access_token", r.access_token);
    f("refresh_token", r.refresh_token);
    f("expires_at", r.expires_at);
  }
};

}  // namespace spa::authd
