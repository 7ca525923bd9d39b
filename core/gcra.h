// Rate limits as GCRA, the Generic Cell Rate Algorithm (ITU-T I.371; the
// virtual-scheduling form): "N per PERIOD" is a bucket of N requests that
// refills one request every PERIOD/N. One number per key — the theoretical
// arrival time (TAT) of the next request — so a key costs 8 bytes of state
// whatever N is, and the answer is exact: no window edge where 2N requests
// pass, no approximation from averaging two windows.
//
// Time is in microseconds on a monotonic clock, passed in.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace spa::core {

struct RateLimit {
  uint32_t limit = 0;      // N: the burst, and the quota per period
  int64_t period_us = 0;   // PERIOD

  int64_t interval_us() const { return period_us / limit; }                 // T: one request's worth of time
  int64_t tolerance_us() const { return interval_us() * (limit - 1); }      // tau: how far ahead TAT may run
};

// "5/15m", "100/1s", "3/1h": N from 1 to 1,000,000; PERIOD a duration from
// 1s to 1d (s, m, h, d); PERIOD/N at least one microsecond.
std::optional<RateLimit> parse_rate(std::string_view text);

struct RateDecision {
  bool allowed = false;
  int64_t tat_us = 0;          // to store back (unchanged when refused)
  uint32_t remaining = 0;      // requests that would pass right now, after this one
  int64_t retry_after_us = 0;  // refused: when the next request may pass
  int64_t reset_us = 0;        // until the bucket is full again
};

// One request at `now_us` for a key whose stored TAT is `tat_us` (0 for a
// new key). A stored TAT further ahead than one full bucket can only come
// from a clock that went backwards; it is clamped, so such a key waits at
// most one period, never longer.
RateDecision rate_check(const RateLimit& limit, int64_t tat_us, int64_t now_us);

// Seconds for Retry-After and the RateLimit header: rounded up, at least 1
// when anything is left to wait.
int64_t ceil_seconds(int64_t us);

}  // namespace spa::core
