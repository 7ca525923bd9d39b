#include "core/gcra.h"

#include <algorithm>

#include "core/duration.h"

namespace spa::core {

std::optional<RateLimit> parse_rate(std::string_view text) {
  size_t slash = text.find('/');
  if (slash == 0 || slash == std::string_view::npos || slash > 7) return std::nullopt;
  uint64_t n = 0;
  for (char c : text.substr(0, slash)) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  auto period = parse_duration(text.substr(slash + 1));
  if (n < 1 || n > 1'000'000 || !period || *period < 1 || *period > 86400) return std::nullopt;
  RateLimit r{static_cast<uint32_t>(n), *period * 1'000'000};
  if (r.interval_us() < 1) return std::nullopt;
  return r;
}

RateDecision rate_check(const RateLimit& limit, int64_t tat_us, int64_t now_us) {
  const int64_t t = limit.interval_us();
  const int64_t tau = limit.tolerance_us();
  RateDecision d;
  int64_t tat = std::max(std::min(tat_us, now_us + tau + t), now_us);
  if (tat - tau > now_us) {
    d.tat_us = tat;  // the stored TAT, or its clamp
    d.retry_after_us = tat - tau - now_us;
    d.reset_us = tat - now_us;
    return d;
  }
  d.allowed = true;
  d.tat_us = tat + t;
  // Requests that fit between now and the tolerance, after this one.
  int64_t room = now_us + tau - d.tat_us;
  d.remaining = room < 0 ? 0 : static_cast<uint32_t>(room / t + 1);
  d.reset_us = d.tat_us - now_us;
  return d;
}

int64_t ceil_seconds(int64_t us) { return us <= 0 ? 0 : (us + 999'999) / 1'000'000; }

}  // namespace spa::core
