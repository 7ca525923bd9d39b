// The sessions database's record: written by spa-authd, read by every nginx
// worker on every request (spa_auth_session_store). A fixed binary layout,
// so the module decodes it without allocating or parsing JSON.
//
//   offset size
//   0      1    version (1)
//   1      1    state: 0 active, 1 revoked, 2 user disabled
//   2      2    reserved, zero
//   4      4    tokens_not_before - created_at, seconds, little endian; 0: none.
//                Access tokens of the session issued (iat) before it are
//                refused: a role change, password change or re-login
//                invalidates tokens already handed out, and the session
//                lives on (its next refresh gets a token with the news).
//   8      8    created_at, Unix seconds, little endian
//   16     8    expires_at (the refresh token family's end)
//   24     8    revoked_at (0 while active)
//   32     16   user id
//   48          (size)
//
// Keys of the sessions database are the session id (`sid` claim) as text.
// Its name and this format are defined here only: spa-authd's store and the
// module's reader (core/session_reader.h) both take them from this file.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace spa::core {

// The sessions database's name in spa-authd's LMDB environment.
inline constexpr const char* kSessionsDb = "sessions";

enum class SessionState : uint8_t { kActive = 0, kRevoked = 1, kUserDisabled = 2 };

struct SessionRecord {
  static constexpr uint8_t kVersion = 1;
  static constexpr size_t kSize = 48;

  SessionState state = SessionState::kActive;
  int64_t created_at = 0;
  int64_t expires_at = 0;
  int64_t revoked_at = 0;
  int64_t tokens_not_before = 0;  // 0, or a time >= created_at
  std::array<uint8_t, 16> user_id{};

  std::string encode() const;
  // nullopt for a wrong size, version or state, or a floor that a damaged
  // created_at would put out of range: the module treats that as revoked
  // (fail closed).
  static std::optional<SessionRecord> decode(std::string_view bytes);

  // The session's user is `sub`: spa-authd's subjects are the user id's 32
  // lowercase hex digits. A token that names a live session of another user
  // (only a stolen signing key can mint one) is refused as if revoked.
  bool belongs_to(std::string_view sub) const;

  // Usable for a request at `now`: active and not past its end.
  bool valid_at(int64_t now) const { return state == SessionState::kActive && now < expires_at; }

  // Usable at `now` for an access token issued at `iat` (absent: the token
  // has none, refused once a floor is set).
  bool accepts(int64_t now, std::optional<int64_t> iat) const {
    return valid_at(now) && (tokens_not_before == 0 || (iat && *iat >= tokens_not_before));
  }
};

}  // namespace spa::core
