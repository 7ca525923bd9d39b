// Rate limits: GCRA with a fake clock (exact boundaries, long windows, a
// clock going backwards) and the zone table (LRU eviction, long keys, kept
// across a reload), and the text of the fields a limited answer carries.
#include <string>
#include <vector>

#include "core/gcra.h"
#include "core/limiter_table.h"
#include "core/rate_fields.h"
#include "tests/unit/helpers.h"

namespace {

using spa::core::LimiterTable;
using spa::core::parse_rate;
using spa::core::rate_check;
using spa::core::RateLimit;

constexpr int64_t kSec = 1'000'000;
constexpr int64_t kT0 = 1'000'000 * kSec;  // any monotonic origin

START_TEST(rates_parse_as_documented) {
  auto r = parse_rate("5/15m");
  ck_assert(r && r->limit == 5 && r->period_us == 900 * kSec);
  ck_assert(r->interval_us() == 180 * kSec && r->tolerance_us() == 720 * kSec);
  ck_assert(parse_rate("3/1h")->period_us == 3600 * kSec);
  ck_assert(parse_rate("1/1d")->period_us == 86400 * kSec);
  ck_assert(parse_rate("1000000/1s")->interval_us() == 1);
  for (const char* bad : {"", "5", "/15m", "0/1m", "5/0s", "5/2d", "5/15", "5/15M", "-1/1m", "5/1w", "1000001/1s",
                          "5 /15m", "5/15m ", "12345678/1d", "x/1m"})
    ck_assert_msg(!parse_rate(bad), "accepted %s", bad);
}
END_TEST

START_TEST(five_per_fifteen_minutes_exactly) {
  RateLimit r = *parse_rate("5/15m");
  int64_t tat = 0;
  for (uint32_t i = 0; i < 5; ++i) {
    auto d = rate_check(r, tat, kT0);
    ck_assert_msg(d.allowed, "request %u refused", i + 1);
    ck_assert_uint_eq(d.remaining, 4 - i);
    tat = d.tat_us;
  }
  auto sixth = rate_check(r, tat, kT0 + 10 * kSec);
  ck_assert(!sixth.allowed);
  ck_assert(sixth.tat_us == tat);  // a refusal costs nothing
  ck_assert(sixth.retry_after_us == 170 * kSec);
  ck_assert_int_eq(spa::core::ceil_seconds(sixth.retry_after_us), 170);
  ck_assert(sixth.reset_us == 890 * kSec);  // the whole bucket is back 15 minutes after the burst
  // One microsecond early is still too early; on the dot passes.
  ck_assert(!rate_check(r, tat, kT0 + 180 * kSec - 1).allowed);
  auto on_time = rate_check(r, tat, kT0 + 180 * kSec);
  ck_assert(on_time.allowed && on_time.remaining == 0);
  // Idle for the whole period: the full burst again.
  auto later = rate_check(r, on_time.tat_us, kT0 + 180 * kSec + 900 * kSec);
  ck_assert(later.allowed && later.remaining == 4);
}
END_TEST

START_TEST(long_windows) {
  RateLimit hour = *parse_rate("3/1h");
  int64_t tat = 0;
  for (int i = 0; i < 3; ++i) tat = rate_check(hour, tat, kT0 + i * kSec).tat_us;
  auto d = rate_check(hour, tat, kT0 + 3 * kSec);
  ck_assert(!d.allowed);
  ck_assert_int_eq(spa::core::ceil_seconds(d.retry_after_us), 1200 - 3);  // one request per 20 minutes
  RateLimit day = *parse_rate("1/1d");
  tat = rate_check(day, 0, kT0).tat_us;
  ck_assert(!rate_check(day, tat, kT0 + 86399 * kSec).allowed);
  ck_assert(rate_check(day, tat, kT0 + 86400 * kSec).allowed);
  // Sustained: never more than N per period on average.
  RateLimit api = *parse_rate("100/15m");
  tat = 0;
  int passed = 0;
  for (int64_t t = 0; t < 3600 * kSec; t += kSec)  // one request a second for an hour
    if (auto x = rate_check(api, tat, kT0 + t); x.allowed) tat = x.tat_us, ++passed;
  ck_assert_int_eq(passed, 100 + 399);  // the burst, then one per 9 s
}
END_TEST

START_TEST(clock_going_backwards) {
  RateLimit r = *parse_rate("5/15m");
  int64_t tat = 0;
  for (int i = 0; i < 5; ++i) tat = rate_check(r, tat, kT0).tat_us;
  // Time jumps back an hour: the key is held at most one period, not an hour more.
  int64_t back = kT0 - 3600 * kSec;
  auto d = rate_check(r, tat, back);
  ck_assert(!d.allowed);
  ck_assert(d.retry_after_us == 180 * kSec);
  ck_assert(d.tat_us == back + 900 * kSec);
  ck_assert(rate_check(r, d.tat_us, back + 180 * kSec).allowed);
  // A small step back: the same, a bucket can never be more than empty.
  auto small = rate_check(r, tat, kT0 - 5 * kSec);
  ck_assert(!small.allowed && small.retry_after_us == 180 * kSec);
}
END_TEST

struct Zone {
  std::vector<uint64_t> mem;
  LimiterTable* table;
  explicit Zone(size_t bytes) : mem(bytes / 8) {
    bool kept;
    table = LimiterTable::attach(mem.data(), bytes, 42, false, kept);
  }
};

START_TEST(a_full_zone_evicts_the_least_recently_used) {
  ck_assert_uint_eq(LimiterTable::capacity_for(10 * 1024 * 1024), 79436);
  ck_assert_uint_eq(LimiterTable::capacity_for(100), 0);
  size_t bytes = 128 + 8 + 4 * 132;
  Zone z(bytes);
  ck_assert(z.table != nullptr);
  ck_assert_uint_eq(z.table->capacity(), 4);
  RateLimit one = *parse_rate("1/1h");
  for (const char* k : {"k1", "k2", "k3", "k4"}) ck_assert(z.table->hit(k, one, kT0).allowed);
  ck_assert_uint_eq(z.table->size(), 4);
  ck_assert(!z.table->hit("k1", one, kT0 + kSec).allowed);  // k1 is now the most recent
  ck_assert(z.table->hit("k5", one, kT0 + 2 * kSec).allowed);  // evicts k2, the oldest
  ck_assert_uint_eq(z.table->size(), 4);
  ck_assert_uint_eq(z.table->counters().evicted, 1);
  ck_assert(z.table->hit("k2", one, kT0 + 3 * kSec).allowed);   // forgotten: a fresh bucket (evicts k3)
  ck_assert(!z.table->hit("k1", one, kT0 + 4 * kSec).allowed);  // kept its state
  ck_assert(!z.table->hit("k4", one, kT0 + 5 * kSec).allowed);
  ck_assert(z.table->hit("k3", one, kT0 + 6 * kSec).allowed);   // was evicted by k2
  ck_assert_uint_eq(z.table->counters().evicted, 3);
  ck_assert_uint_eq(z.table->counters().refused, 3);
  ck_assert(z.table->hit("", one, kT0).allowed);  // no key, no limit
}
END_TEST

START_TEST(long_keys_and_reloads) {
  Zone z(64 * 1024);
  RateLimit one = *parse_rate("1/1m");
  std::string a(300, 'a'), b = a;
  b.back() = 'b';
  ck_assert(z.table->hit(a, one, kT0).allowed);
  ck_assert(z.table->hit(b, one, kT0).allowed);   // differs in the last byte: another key
  ck_assert(!z.table->hit(a, one, kT0).allowed);
  std::string raw(32, 'x');  // as long as a digest, but a key of its own
  ck_assert(z.table->hit(raw, one, kT0).allowed);
  // Attached again with keep (nginx -s reload, same zone): the state stays.
  bool kept = false;
  LimiterTable* again = LimiterTable::attach(z.mem.data(), z.mem.size() * 8, 7, true, kept);
  ck_assert(kept);
  ck_assert(!again->hit(a, one, kT0 + kSec).allowed);
  // Without keep (the key expression changed): empty.
  again = LimiterTable::attach(z.mem.data(), z.mem.size() * 8, 7, false, kept);
  ck_assert(!kept);
  ck_assert_uint_eq(again->size(), 0);
  ck_assert(again->hit(a, one, kT0 + kSec).allowed);
}
END_TEST

START_TEST(rate_fields_name_the_zone) {
  auto rate = parse_rate("5/15m");
  ck_assert(rate.has_value());
  std::string policy = spa::core::rate_limit_policy("login", *rate);
  ck_assert_str_eq(policy.c_str(), "\"login\";q=5;w=900");
  // Passed: what is left and when the bucket is full again.
  auto first = rate_check(*rate, 0, kT0);
  std::string passed = spa::core::rate_limit_state("login", first);
  ck_assert_str_eq(passed.c_str(), "\"login\";r=4;t=180");
  // Refused: nothing left, and the wait, rounded up to whole seconds.
  int64_t tat = first.tat_us;
  for (int i = 0; i < 4; ++i) tat = rate_check(*rate, tat, kT0).tat_us;
  auto refused = rate_check(*rate, tat, kT0 + kSec / 2);
  ck_assert(!refused.allowed);
  std::string state = spa::core::rate_limit_state("login", refused);
  ck_assert_str_eq(state.c_str(), "\"login\";r=0;t=180");
  ck_assert_int_eq(spa::core::retry_after_seconds(refused), 180);
  // Retry-After is never 0: a wait under a second still says one.
  spa::core::RateDecision soon;
  soon.retry_after_us = 1;
  ck_assert_int_eq(spa::core::retry_after_seconds(soon), 1);
  soon.retry_after_us = 0;
  ck_assert_int_eq(spa::core::retry_after_seconds(soon), 1);
  std::string message = spa::core::rate_limited_message(180);
  ck_assert_str_eq(message.c_str(), "too many requests; retry after 180 seconds");
}
END_TEST

}  // namespace

Suite* limiter_suite() {
  Suite* s = suite_create("limiter");
  TCase* t = tcase_create("core");
  tcase_add_test(t, rates_parse_as_documented);
  tcase_add_test(t, five_per_fifteen_minutes_exactly);
  tcase_add_test(t, long_windows);
  tcase_add_test(t, clock_going_backwards);
  tcase_add_test(t, a_full_zone_evicts_the_least_recently_used);
  tcase_add_test(t, long_keys_and_reloads);
  tcase_add_test(t, rate_fields_name_the_zone);
  suite_add_tcase(s, t);
  return s;
}
REGISTER_SUITE(limiter_suite);
