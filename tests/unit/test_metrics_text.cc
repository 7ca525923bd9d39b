// spa_auth_status's Prometheus text (core/metrics_text.h), rendered from
// plain counters.
#include <string>
#include <vector>

#include "core/metrics_text.h"
#include "tests/unit/helpers.h"

namespace {

using namespace spa::core;

START_TEST(limit_families_by_zone) {
  std::vector<ZoneCounters> zones = {{"login", 7, 2, 1, 5, 7849}, {"api", 0, 0, 0, 0, 78909}};
  std::string text = limit_metrics_text(zones);
  ck_assert_str_eq(text.c_str(),
                   "# HELP spa_auth_limit_requests_total Requests counted by a rate-limit zone, by result "
                   "(limited includes dry_run).\n"
                   "# TYPE spa_auth_limit_requests_total counter\n"
                   "spa_auth_limit_requests_total{zone=\"login\",result=\"allowed\"} 7\n"
                   "spa_auth_limit_requests_total{zone=\"login\",result=\"limited\"} 2\n"
                   "spa_auth_limit_requests_total{zone=\"api\",result=\"allowed\"} 0\n"
                   "spa_auth_limit_requests_total{zone=\"api\",result=\"limited\"} 0\n"
                   "# HELP spa_auth_limit_evictions_total Keys dropped from a full zone, least recently used first.\n"
                   "# TYPE spa_auth_limit_evictions_total counter\n"
                   "spa_auth_limit_evictions_total{zone=\"login\"} 1\n"
                   "spa_auth_limit_evictions_total{zone=\"api\"} 0\n"
                   "# HELP spa_auth_limit_keys Keys held by a zone.\n"
                   "# TYPE spa_auth_limit_keys gauge\n"
                   "spa_auth_limit_keys{zone=\"login\"} 5\n"
                   "spa_auth_limit_keys{zone=\"api\"} 0\n"
                   "# HELP spa_auth_limit_capacity Keys a zone can hold.\n"
                   "# TYPE spa_auth_limit_capacity gauge\n"
                   "spa_auth_limit_capacity{zone=\"login\"} 7849\n"
                   "spa_auth_limit_capacity{zone=\"api\"} 78909\n");
  // No zones: the families are still described.
  std::string empty = limit_metrics_text({});
  ck_assert(empty.find("# TYPE spa_auth_limit_capacity gauge\n") != std::string::npos);
  ck_assert(empty.find("{zone=") == std::string::npos);
}
END_TEST

START_TEST(websocket_closes_by_reason) {
  WebSocketCounters c;
  c.authorized = 12;
  c.closed[static_cast<size_t>(CloseReason::kTokenExpired)] = 3;
  c.closed[static_cast<size_t>(CloseReason::kSessionRevoked)] = 2;
  c.closed[static_cast<size_t>(CloseReason::kNoFrameBoundary)] = 1;
  std::string text = websocket_metrics_text(c);
  ck_assert_str_eq(text.c_str(),
                   "# HELP spa_auth_websocket_authorized_total WebSocket upgrades authorized.\n"
                   "# TYPE spa_auth_websocket_authorized_total counter\n"
                   "spa_auth_websocket_authorized_total 12\n"
                   "# HELP spa_auth_websocket_closed_total Authorized sockets the module closed, by reason.\n"
                   "# TYPE spa_auth_websocket_closed_total counter\n"
                   "spa_auth_websocket_closed_total{reason=\"token expired\"} 3\n"
                   "spa_auth_websocket_closed_total{reason=\"session revoked\"} 2\n"
                   "spa_auth_websocket_closed_total{reason=\"no frame boundary\"} 1\n");
  std::string expired(close_reason_text(CloseReason::kTokenExpired));
  ck_assert_str_eq(expired.c_str(), "token expired");
}
END_TEST

}  // namespace

Suite* metrics_text_suite() {
  Suite* s = suite_create("metrics_text");
  TCase* t = tcase_create("core");
  tcase_add_test(t, limit_families_by_zone);
  tcase_add_test(t, websocket_closes_by_reason);
  suite_add_tcase(s, t);
  return s;
}

REGISTER_SUITE(metrics_text_suite);
