#include "core/session_record.h"

#include <algorithm>
#include <cstdint>

namespace spa::core {
namespace {

void put64(std::string& out, size_t at, int64_t v) {
  uint64_t u = static_cast<uint64_t>(v);
  for (int i = 0; i < 8; ++i) out[at + i] = static_cast<char>((u >> (8 * i)) & 0xff);
}

void put32(std::string& out, size_t at, uint32_t u) {
  for (int i = 0; i < 4; ++i) out[at + i] = static_cast<char>((u >> (8 * i)) & 0xff);
}

uint32_t get32(std::string_view in, size_t at) {
  uint32_t u = 0;
  for (int i = 0; i < 4; ++i) u |= static_cast<uint32_t>(static_cast<uint8_t>(in[at + i])) << (8 * i);
  return u;
}

int64_t get64(std::string_view in, size_t at) {
  uint64_t u = 0;
  for (int i = 0; i < 8; ++i) u |= static_cast<uint64_t>(static_cast<uint8_t>(in[at + i])) << (8 * i);
  return static_cast<int64_t>(u);
}

}  // namespace

bool SessionRecord::belongs_to(std::string_view sub) const {
  static constexpr char kHex[] = "0123456789abcdef";
  if (sub.size() != 2 * user_id.size()) return false;
  for (size_t i = 0; i < user_id.size(); ++i)
    if (sub[2 * i] != kHex[user_id[i] >> 4] || sub[2 * i + 1] != kHex[user_id[i] & 0xf]) return false;
  return true;
}

std::string SessionRecord::encode() const {
  std::string out(kSize, '\0');
  out[0] = static_cast<char>(kVersion);
  out[1] = static_cast<char>(state);
  if (tokens_not_before > 0) {
    // Stored relative to created_at, rounded towards refusing: a floor at
    // or before created_at becomes created_at + 1, one past 2^32 s saturates.
    int64_t delta = std::max<int64_t>(tokens_not_before - created_at, 1);
    put32(out, 4, static_cast<uint32_t>(std::min<int64_t>(delta, UINT32_MAX)));
  }
  put64(out, 8, created_at);
  put64(out, 16, expires_at);
  put64(out, 24, revoked_at);
  for (size_t i = 0; i < user_id.size(); ++i) out[32 + i] = static_cast<char>(user_id[i]);
  return out;
}

std::optional<SessionRecord> SessionRecord::decode(std::string_view bytes) {
  if (bytes.size() != kSize || static_cast<uint8_t>(bytes[0]) != kVersion) return std::nullopt;
  uint8_t state = static_cast<uint8_t>(bytes[1]);
  if (state > static_cast<uint8_t>(SessionState::kUserDisabled)) return std::nullopt;
  SessionRecord r;
  r.state = static_cast<SessionState>(state);
  r.created_at = get64(bytes, 8);
  r.expires_at = get64(bytes, 16);
  r.revoked_at = get64(bytes, 24);
  if (uint32_t delta = get32(bytes, 4)) {
    // spa-authd writes created_at as a time (> 0); anything else is a damaged
    // record, whose floor would overflow or land at or before 0 ("no floor").
    if (r.created_at < 0 || r.created_at > INT64_MAX - delta) return std::nullopt;
    r.tokens_not_before = r.created_at + delta;
  }
  for (size_t i = 0; i < r.user_id.size(); ++i) r.user_id[i] = static_cast<uint8_t>(bytes[32 + i]);
  return r;
}

}  // namespace spa::core
