// The WebSocket frame tracker, fed one byte stream whole and again in
// arbitrary pieces (the first byte of the input seeds the cuts): both must
// end at the same place in the same frame count, and rest_of_frame must
// never claim more than it was shown or point past a boundary.
#include "core/ws_frames.h"
#include "tests/fuzz/fuzz.h"

using namespace spa::core;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  uint32_t seed = data[0] * 2654435761u + 1;
  const uint8_t* stream = data + 1;
  size_t n = size - 1;

  FrameTracker whole;
  whole.feed(stream, n);

  FrameTracker pieces;
  size_t at = 0;
  while (at < n) {
    seed = seed * 1103515245u + 12345u;
    size_t len = std::min<size_t>(n - at, (seed >> 16) % 9);  // 0..8 bytes: headers cut anywhere
    size_t rest = pieces.rest_of_frame(stream + at, n - at);
    FUZZ_CHECK(rest <= n - at);
    if (pieces.at_boundary()) FUZZ_CHECK(rest == 0);
    if (rest > 0 && rest < n - at) {
      // Feeding exactly the rest of the frame ends at a boundary.
      FrameTracker probe = pieces;
      probe.feed(stream + at, rest);
      FUZZ_CHECK(probe.at_boundary());
    }
    pieces.feed(stream + at, len);
    at += len;
  }
  FUZZ_CHECK(pieces.at_boundary() == whole.at_boundary());
  FUZZ_CHECK(pieces.frames() == whole.frames());

  std::string reason(fuzz::as_text(stream, std::min<size_t>(n, 200)));
  std::string frame = close_frame(static_cast<uint16_t>(4000 + data[0]), reason);
  FUZZ_CHECK(frame.size() <= 2 + 125);
  FrameTracker close;
  close.feed(reinterpret_cast<const uint8_t*>(frame.data()), frame.size());
  FUZZ_CHECK(close.at_boundary() && close.frames() == 1);
  return 0;
}
