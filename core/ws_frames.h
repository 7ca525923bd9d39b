// WebSocket frames (RFC 6455 §5.2) as far as a proxy needs them: where the
// frames in a byte stream begin and end, so a close frame can be put in
// between two frames and never inside one; and the close frame itself.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace spa::core {

// Follows the frames of one direction of a connection, fed the bytes in
// the order they were sent.
class FrameTracker {
 public:
  void feed(const uint8_t* data, size_t n);
  // True between two frames: nothing of a frame has been sent, or all of it.
  bool at_boundary() const { return header_have_ == 0 && payload_left_ == 0; }
  // How many of the next `n` bytes (`data`) still belong to the frame under
  // way (all `n` when it goes on past them); 0 at a boundary.
  size_t rest_of_frame(const uint8_t* data, size_t n) const;
  uint64_t frames() const { return frames_; }

 private:
  // Bytes of the header seen so far, and how long the header is (known
  // after its second byte).
  uint8_t header_[14] = {};
  size_t header_have_ = 0;
  uint64_t payload_left_ = 0;
  uint64_t frames_ = 0;
};

// A close frame from a server (unmasked): code and a UTF-8 reason of at most
// 123 bytes (RFC 6455 §5.5: control frames carry at most 125 bytes).
std::string close_frame(uint16_t code, std::string_view reason);

// Why the module ended an authorized socket. The text is the close frame's
// reason (kNoFrameBoundary sends none) and spa_auth_status's label.
// kSessionUnverifiable: the node's session mirror, fed from a shared store,
// has gone unconfirmed past its max_staleness (core/session_reader.h).
enum class CloseReason { kTokenExpired, kSessionRevoked, kNoFrameBoundary, kSessionUnverifiable };
inline constexpr size_t kCloseReasons = 4;
std::string_view close_reason_text(CloseReason r);

}  // namespace spa::core
