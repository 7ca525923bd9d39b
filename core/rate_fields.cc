#include "core/rate_fields.h"

#include <algorithm>

namespace spa::core {

std::string rate_limit_policy(std::string_view zone, const RateLimit& rate) {
  return "\"" + std::string(zone) + "\";q=" + std::to_string(rate.limit) +
         ";w=" + std::to_string(rate.period_us / 1'000'000);
}

std::string rate_limit_state(std::string_view zone, const RateDecision& d) {
  return "\"" + std::string(zone) + "\";r=" + std::to_string(d.remaining) +
         ";t=" + std::to_string(ceil_seconds(d.allowed ? d.reset_us : d.retry_after_us));
}

int64_t retry_after_seconds(const RateDecision& d) { return std::max<int64_t>(1, ceil_seconds(d.retry_after_us)); }

std::string rate_limited_message(int64_t retry_after) {
  return "too many requests; retry after " + std::to_string(retry_after) + " seconds";
}

}  // namespace spa::core
