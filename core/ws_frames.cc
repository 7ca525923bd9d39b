#include "core/ws_frames.h"

#include <algorithm>

namespace spa::core {
namespace {

// The header length once its first two bytes are known.
size_t header_length(const uint8_t* h) {
  size_t len = 2;
  uint8_t len7 = h[1] & 0x7f;
  if (len7 == 126) len += 2;
  else if (len7 == 127) len += 8;
  if (h[1] & 0x80) len += 4;  // masking key (clients mask; servers should not)
  return len;
}

uint64_t payload_length(const uint8_t* h) {
  uint8_t len7 = h[1] & 0x7f;
  if (len7 < 126) return len7;
  size_t bytes = len7 == 126 ? 2 : 8;
  uint64_t v = 0;
  for (size_t i = 0; i < bytes; ++i) v = (v << 8) | h[2 + i];
  return v;
}

}  // namespace

void FrameTracker::feed(const uint8_t* data, size_t n) {
  while (n > 0) {
    if (payload_left_ > 0) {
      uint64_t take = std::min<uint64_t>(payload_left_, n);
      payload_left_ -= take;
      data += take;
      n -= static_cast<size_t>(take);
      continue;
    }
    header_[header_have_++] = *data++;
    --n;
    if (header_have_ >= 2 && header_have_ == header_length(header_)) {
      payload_left_ = payload_length(header_);
      header_have_ = 0;
      ++frames_;
    }
  }
}

size_t FrameTracker::rest_of_frame(const uint8_t* data, size_t n) const {
  if (at_boundary()) return 0;
  FrameTracker copy = *this;
  size_t used = 0;
  // Feed one byte at a time through the header, then the payload at once.
  while (used < n && !copy.at_boundary()) {
    if (copy.payload_left_ > 0) {
      uint64_t take = std::min<uint64_t>(copy.payload_left_, n - used);
      copy.payload_left_ -= take;
      used += static_cast<size_t>(take);
    } else {
      copy.feed(data + used, 1);
      ++used;
    }
  }
  return used;
}

std::string close_frame(uint16_t code, std::string_view reason) {
  reason = reason.substr(0, 123);
  std::string f;
  f.push_back(static_cast<char>(0x88));  // FIN, opcode 8 (close)
  f.push_back(static_cast<char>(2 + reason.size()));
  f.push_back(static_cast<char>(code >> 8));
  f.push_back(static_cast<char>(code & 0xff));
  f.append(reason);
  return f;
}

std::string_view close_reason_text(CloseReason r) {
  switch (r) {
    case CloseReason::kTokenExpired: return "token expired";
    case CloseReason::kSessionRevoked: return "session revoked";
    case CloseReason::kNoFrameBoundary: return "no frame boundary";
    case CloseReason::kSessionUnverifiable: return "session unverifiable";
  }
  return "unknown";
}

}  // namespace spa::core
