// WebSocket frame boundaries (RFC 6455 §5.2) and the close frame, as the
// module uses them to end a socket without cutting a frame in two.
#include <string>
#include <vector>

#include "core/ws_frames.h"
#include "tests/unit/helpers.h"

namespace {

using spa::core::FrameTracker;

std::string frame(size_t payload, bool masked = false) {
  std::string f;
  f.push_back(static_cast<char>(0x82));  // FIN, binary
  uint8_t mask = masked ? 0x80 : 0;
  if (payload < 126) {
    f.push_back(static_cast<char>(mask | payload));
  } else if (payload < 65536) {
    f.push_back(static_cast<char>(mask | 126));
    f.push_back(static_cast<char>(payload >> 8));
    f.push_back(static_cast<char>(payload & 0xff));
  } else {
    f.push_back(static_cast<char>(mask | 127));
    for (int i = 7; i >= 0; --i) f.push_back(static_cast<char>((static_cast<uint64_t>(payload) >> (8 * i)) & 0xff));
  }
  if (masked) f += "MASK";
  f += std::string(payload, 'x');
  return f;
}

const uint8_t* bytes(const std::string& s) { return reinterpret_cast<const uint8_t*>(s.data()); }

START_TEST(boundaries_in_any_split) {
  std::vector<std::string> frames = {frame(0), frame(5), frame(125), frame(126), frame(70000), frame(3, true)};
  std::string stream;
  std::vector<size_t> ends;
  for (const auto& f : frames) {
    stream += f;
    ends.push_back(stream.size());
  }
  for (size_t chunk : {size_t{1}, size_t{2}, size_t{7}, size_t{4096}, stream.size()}) {
    FrameTracker t;
    ck_assert(t.at_boundary());
    size_t sent = 0;
    while (sent < stream.size()) {
      size_t n = std::min(chunk, stream.size() - sent);
      t.feed(bytes(stream) + sent, n);
      sent += n;
      bool boundary = std::find(ends.begin(), ends.end(), sent) != ends.end();
      ck_assert_msg(t.at_boundary() == boundary, "chunk %zu: boundary wrong after %zu bytes", chunk, sent);
    }
    ck_assert_uint_eq(t.frames(), frames.size());
  }
}
END_TEST

START_TEST(rest_of_the_frame_under_way) {
  std::string a = frame(300), b = frame(10);
  std::string stream = a + b;
  FrameTracker t;
  ck_assert_uint_eq(t.rest_of_frame(bytes(stream), stream.size()), 0);  // between frames: nothing to finish
  t.feed(bytes(stream), 1);  // one header byte
  ck_assert_uint_eq(t.rest_of_frame(bytes(stream) + 1, stream.size() - 1), a.size() - 1);
  t.feed(bytes(stream) + 1, 100);
  ck_assert_uint_eq(t.rest_of_frame(bytes(stream) + 101, stream.size() - 101), a.size() - 101);
  ck_assert_uint_eq(t.rest_of_frame(bytes(stream) + 101, 50), 50);  // goes on past what is there
  t.feed(bytes(stream) + 101, a.size() - 101);
  ck_assert(t.at_boundary());
}
END_TEST

START_TEST(close_frame_4401) {
  std::string f = spa::core::close_frame(4401, "token expired");
  ck_assert(f == std::string("\x88\x0f\x11\x31token expired", 17));
  ck_assert_uint_eq(spa::core::close_frame(4401, std::string(300, 'r')).size(), 2 + 125);  // control frames: 125 bytes
  FrameTracker t;
  t.feed(bytes(f), f.size());
  ck_assert(t.at_boundary() && t.frames() == 1);
}
END_TEST

}  // namespace

Suite* ws_suite() {
  Suite* s = suite_create("websocket");
  TCase* t = tcase_create("core");
  tcase_add_test(t, boundaries_in_any_split);
  tcase_add_test(t, rest_of_the_frame_under_way);
  tcase_add_test(t, close_frame_4401);
  suite_add_tcase(s, t);
  return s;
}
REGISTER_SUITE(ws_suite);
