// spa_auth_status: the module's counters as Prometheus text (exposition
// format 0.0.4), rendered from plain numbers the glue copied out of shared
// memory under the zones' locks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/ws_frames.h"

namespace spa::core {

// One spa_auth_limit_zone (LimiterTable's counters, size and capacity).
struct ZoneCounters {
  std::string_view name;
  uint64_t allowed = 0;
  uint64_t limited = 0;  // refused, or logged under dry_run
  uint64_t evicted = 0;
  size_t keys = 0;
  size_t capacity = 0;
};

struct WebSocketCounters {
  uint64_t authorized = 0;
  uint64_t closed[kCloseReasons] = {};  // indexed by CloseReason
};

// The limiter's families, each with its HELP and TYPE lines even when no
// zone is configured: requests by result, evictions, keys, capacity.
std::string limit_metrics_text(const std::vector<ZoneCounters>& zones);

// Upgrades authorized, and sockets closed by reason.
std::string websocket_metrics_text(const WebSocketCounters& counters);

}  // namespace spa::core
