// core::SessionRecord as a worker decodes a damaged store: what fuzzing
// found (tests/fuzz/fuzz_session_record.cc) stays fixed here.
#include <climits>
#include <string>

#include "core/session_record.h"
#include "tests/unit/helpers.h"

using namespace spa::core;

namespace {

// A record of version 1 with `created_at` and a floor `delta` seconds after it.
std::string record(int64_t created_at, uint32_t delta) {
  SessionRecord r;
  r.created_at = 1'800'000'000;
  r.expires_at = r.created_at + 3600;
  r.tokens_not_before = delta ? r.created_at + delta : 0;
  std::string bytes = r.encode();
  for (int i = 0; i < 8; ++i) bytes[8 + i] = static_cast<char>((static_cast<uint64_t>(created_at) >> (8 * i)) & 0xff);
  return bytes;
}

}  // namespace

START_TEST(a_floor_out_of_range_is_refused) {
  // Found by fuzz_session_record: created_at near INT64_MAX plus the floor's
  // delta overflowed (undefined behaviour in every worker).
  ck_assert(!SessionRecord::decode(record(INT64_MAX, 1)));
  ck_assert(!SessionRecord::decode(record(INT64_MAX - 59, 60)));
  // A negative created_at would put the floor at or before 0, which reads as "no floor".
  ck_assert(!SessionRecord::decode(record(-60, 60)));
  ck_assert(!SessionRecord::decode(record(-1, 1)));
  // The edges that are in range still decode, floor and all.
  auto last = SessionRecord::decode(record(INT64_MAX - 60, 60));
  ck_assert(last && last->tokens_not_before == INT64_MAX);
  auto normal = SessionRecord::decode(record(1'800'000'000, 60));
  ck_assert(normal && normal->tokens_not_before == 1'800'000'060);
  ck_assert(!normal->accepts(1'800'000'100, 1'800'000'059));
  ck_assert(normal->accepts(1'800'000'100, 1'800'000'060));
  // Without a floor, any created_at decodes as before (nothing is added to it).
  ck_assert(SessionRecord::decode(record(INT64_MAX, 0)));
  ck_assert(SessionRecord::decode(record(-5, 0)));
}
END_TEST

Suite* session_record_suite() {
  Suite* s = suite_create("session_record");
  TCase* t = tcase_create("decode");
  tcase_add_test(t, a_floor_out_of_range_is_refused);
  suite_add_tcase(s, t);
  return s;
}

REGISTER_SUITE(session_record_suite);
