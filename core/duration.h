// Durations as configs write them: "10s", "15m", "1h", "7d".
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace spa::core {

// Seconds, or nullopt for anything but digits followed by one of s, m, h,
// d (and at most 10 years, so callers can add it to a time safely).
std::optional<int64_t> parse_duration(std::string_view text);

}  // namespace spa::core
