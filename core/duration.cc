#include "core/duration.h"

namespace spa::core {

std::optional<int64_t> parse_duration(std::string_view text) {
  constexpr int64_t kMax = int64_t{10} * 365 * 86400;
  if (text.size() < 2 || text.size() > 12) return std::nullopt;
  int64_t unit;
  switch (text.back()) {
    case 's': unit = 1; break;
    case 'm': unit = 60; break;
    case 'h': unit = 3600; break;
    case 'd': unit = 86400; break;
    default: return std::nullopt;
  }
  int64_t n = 0;
  for (char c : text.substr(0, text.size() - 1)) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + (c - '0');
    if (n * unit > kMax) return std::nullopt;
  }
  return n * unit;
}

}  // namespace spa::core
