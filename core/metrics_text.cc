#include "core/metrics_text.h"

namespace spa::core {

std::string metric_family(std::string_view name, std::string_view type, std::string_view help) {
  return "# HELP " + std::string(name) + " " + std::string(help) + "\n# TYPE " + std::string(name) + " " +
         std::string(type) + "\n";
}

std::string metric_sample(std::string_view name, std::string_view labels, uint64_t value) {
  std::string out(name);
  if (!labels.empty()) out += "{" + std::string(labels) + "}";
  return out + " " + std::to_string(value) + "\n";
}

std::string metric_gauge(std::string_view name, std::string_view help, uint64_t value) {
  return metric_family(name, "gauge", help) + metric_sample(name, "", value);
}

std::string metric_counter(std::string_view name, std::string_view help, uint64_t value) {
  return metric_family(name, "counter", help) + metric_sample(name, "", value);
}


std::string module_metrics_text(const ModuleCounters& c) {
  std::string out = metric_family("spa_auth_decisions_total", "counter",
                           "Requests the module decided, by $spa_auth_result (ok: let through).");
  for (size_t i = 0; i < kStatusCount; ++i)
    out += metric_sample("spa_auth_decisions_total", "result=\"" + std::string(status_name(static_cast<Status>(i))) + "\"",
                  c.decisions[i]);
  out += metric_family("spa_auth_token_cache_total", "counter",
                "Token checks by the worker's verified-token cache: hit (no signature check) or miss.");
  out += metric_sample("spa_auth_token_cache_total", "result=\"hit\"", c.cache_hits);
  out += metric_sample("spa_auth_token_cache_total", "result=\"miss\"", c.cache_misses);
  out += metric_family("spa_auth_jwks_reloads_total", "counter", "Changed JWKS files a worker loaded (each worker counts).");
  out += metric_sample("spa_auth_jwks_reloads_total", "", c.jwks_reloads);
  out += metric_family("spa_auth_jwks_reload_failures_total", "counter",
                "Changed JWKS files a worker could not use; it kept the previous keys.");
  out += metric_sample("spa_auth_jwks_reload_failures_total", "", c.jwks_failures);
  out += metric_family("spa_auth_store_lookups_total", "counter",
                "Session-store lookups by result: valid, revoked (revoked, unknown or not the subject's), error.");
  static constexpr std::string_view kLookups[kStoreLookups] = {"valid", "revoked", "error"};
  for (size_t i = 0; i < kStoreLookups; ++i)
    out += metric_sample("spa_auth_store_lookups_total", "result=\"" + std::string(kLookups[i]) + "\"", c.store_lookups[i]);
  return out;
}

std::string limit_metrics_text(const std::vector<ZoneCounters>& zones) {
  std::string out =
      "# HELP spa_auth_limit_requests_total Requests counted by a rate-limit zone, by result "
      "(limited includes dry_run).\n"
      "# TYPE spa_auth_limit_requests_total counter\n";
  std::string evicted = "# HELP spa_auth_limit_evictions_total Keys dropped from a full zone, least recently used first.\n"
                        "# TYPE spa_auth_limit_evictions_total counter\n";
  std::string keys = "# HELP spa_auth_limit_keys Keys held by a zone.\n"
                     "# TYPE spa_auth_limit_keys gauge\n";
  std::string capacities = "# HELP spa_auth_limit_capacity Keys a zone can hold.\n"
                           "# TYPE spa_auth_limit_capacity gauge\n";
  for (const ZoneCounters& z : zones) {
    std::string label = "zone=\"" + std::string(z.name) + "\"";
    out += "spa_auth_limit_requests_total{" + label + ",result=\"allowed\"} " + std::to_string(z.allowed) + "\n";
    out += "spa_auth_limit_requests_total{" + label + ",result=\"limited\"} " + std::to_string(z.limited) + "\n";
    evicted += "spa_auth_limit_evictions_total{" + label + "} " + std::to_string(z.evicted) + "\n";
    keys += "spa_auth_limit_keys{" + label + "} " + std::to_string(z.keys) + "\n";
    capacities += "spa_auth_limit_capacity{" + label + "} " + std::to_string(z.capacity) + "\n";
  }
  return out + evicted + keys + capacities;
}

std::string websocket_metrics_text(const WebSocketCounters& c) {
  std::string out =
      "# HELP spa_auth_websocket_authorized_total WebSocket upgrades authorized.\n"
      "# TYPE spa_auth_websocket_authorized_total counter\n"
      "spa_auth_websocket_authorized_total " + std::to_string(c.authorized) + "\n"
      "# HELP spa_auth_websocket_closed_total Authorized sockets the module closed, by reason.\n"
      "# TYPE spa_auth_websocket_closed_total counter\n";
  for (CloseReason r : {CloseReason::kTokenExpired, CloseReason::kSessionRevoked, CloseReason::kNoFrameBoundary,
                        CloseReason::kSessionUnverifiable})
    out += "spa_auth_websocket_closed_total{reason=\"" + std::string(close_reason_text(r)) + "\"} " +
           std::to_string(c.closed[static_cast<size_t>(r)]) + "\n";
  return out;
}

}  // namespace spa::core
