#include "core/metrics_text.h"

namespace spa::core {

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
  for (CloseReason r : {CloseReason::kTokenExpired, CloseReason::kSessionRevoked, CloseReason::kNoFrameBoundary})
    out += "spa_auth_websocket_closed_total{reason=\"" + std::string(close_reason_text(r)) + "\"} " +
           std::to_string(c.closed[static_cast<size_t>(r)]) + "\n";
  return out;
}

}  // namespace spa::core
