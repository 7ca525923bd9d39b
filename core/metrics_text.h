// spa_auth_status: the module's counters as Prometheus text (exposition
// format 0.0.4), rendered from plain numbers the glue copied out of shared
// memory under the zones' locks.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"
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

// Prometheus text pieces, for every family the module and spa-authd
// write: "# HELP name help\n# TYPE name type\n", and one sample line
// ("name{labels} value\n"; labels already escaped, or empty).
std::string metric_family(std::string_view name, std::string_view type, std::string_view help);
std::string metric_sample(std::string_view name, std::string_view labels, uint64_t value);
// A family of one sample without labels: its HELP, TYPE and value.
std::string metric_gauge(std::string_view name, std::string_view help, uint64_t value);
std::string metric_counter(std::string_view name, std::string_view help, uint64_t value);

// What the session store's lookups found (the module's check_session).
enum class StoreLookup : uint8_t { kValid, kRevoked, kError };
inline constexpr size_t kStoreLookups = 3;

// The module's own counters, summed over the workers.
struct ModuleCounters {
  uint64_t decisions[kStatusCount] = {};  // indexed by Status: what $spa_auth_result showed
  uint64_t cache_hits = 0;                // a verified token found in the worker's cache, still trusted
  uint64_t cache_misses = 0;              // verified anew (not cached, expired from it, or its key gone)
  uint64_t jwks_reloads = 0;              // a worker read a changed JWKS file
  uint64_t jwks_failures = 0;             // a changed file that could not be used (the old keys stay)
  uint64_t store_lookups[kStoreLookups] = {};  // indexed by StoreLookup
};

// Decisions by result (every status, zero or not), the cache, the JWKS
// reloads and the store lookups.
std::string module_metrics_text(const ModuleCounters& counters);

// The limiter's families, each with its HELP and TYPE lines even when no
// zone is configured: requests by result, evictions, keys, capacity.
std::string limit_metrics_text(const std::vector<ZoneCounters>& zones);

// Upgrades authorized, and sockets closed by reason.
std::string websocket_metrics_text(const WebSocketCounters& counters);

}  // namespace spa::core
