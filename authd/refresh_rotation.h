// The refresh-token state machine, as a pure function of the stored record
// and the time.
//
// A refresh token is stored only as SHA-256(token). Using it once rotates
// it: the caller gets a new pair and the old record remembers its successor.
// Presenting it again within `grace` seconds (two SPA tabs, a retried
// request) returns that same successor pair, kept sealed under a key only
// the old token's holder can derive. Presenting it after that is reuse: the
// token was stolen or replayed, and the whole family — the session — ends.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace spa::authd {

struct RefreshRecord {
  std::string sid;
  std::string user_id;
  int64_t issued_at = 0;
  int64_t expires_at = 0;
  std::string parent;            // hex SHA-256 of the token this one replaced ("" for the first)
  int64_t rotated_at = 0;        // 0 until used
  std::string successor;         // hex SHA-256 of the successor token
  std::string successor_box;     // sealed successor pair (base64url), kept for the grace window

  std::string to_json() const;
  static std::optional<RefreshRecord> from_json(std::string_view text);
};

enum class RefreshDecision {
  kUnknown,        // no such token
  kSessionEnded,   // its session was revoked, or the user disabled
  kExpired,
  kRotate,         // first use: issue the successor
  kSameSuccessor,  // used again within the grace window: hand out the same successor
  kReuse,          // used again after it: revoke the family
};

RefreshDecision decide_refresh(const RefreshRecord* record, bool session_active, int64_t now, int64_t grace);

}  // namespace spa::authd
