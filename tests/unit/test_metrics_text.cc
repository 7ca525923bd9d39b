// spa_auth_status's Prometheus text (core/metrics_text.h), rendered from
// plain counters.
#include <cstdint>
#include <string>
#include <vector>

#include "authd/metrics.h"
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
                   "spa_auth_websocket_closed_total{reason=\"no frame boundary\"} 1\n"
                   "spa_auth_websocket_closed_total{reason=\"session unverifiable\"} 0\n");
  std::string expired(close_reason_text(CloseReason::kTokenExpired));
  ck_assert_str_eq(expired.c_str(), "token expired");
}
END_TEST

START_TEST(module_decisions_cache_jwks_store) {
  ModuleCounters c;
  c.decisions[static_cast<size_t>(Status::kOk)] = 9;
  c.decisions[static_cast<size_t>(Status::kDuplicateCookie)] = 2;
  c.cache_hits = 7;
  c.cache_misses = 3;
  c.jwks_reloads = 4;
  c.jwks_failures = 1;
  c.store_lookups[static_cast<size_t>(StoreLookup::kRevoked)] = 5;
  std::string text = module_metrics_text(c);
  auto has = [&](const char* line) { return text.find(std::string("\n") + line + "\n") != std::string::npos; };
  ck_assert(has("spa_auth_decisions_total{result=\"ok\"} 9"));
  ck_assert(has("spa_auth_decisions_total{result=\"duplicate_cookie\"} 2"));  // the last status has its series
  ck_assert(has("spa_auth_decisions_total{result=\"bad_signature\"} 0"));     // zero ones are shown
  ck_assert(has("spa_auth_token_cache_total{result=\"hit\"} 7"));
  ck_assert(has("spa_auth_token_cache_total{result=\"miss\"} 3"));
  ck_assert(has("spa_auth_jwks_reloads_total 4"));
  ck_assert(has("spa_auth_jwks_reload_failures_total 1"));
  ck_assert(has("spa_auth_store_lookups_total{result=\"revoked\"} 5"));
  ck_assert(has("spa_auth_store_lookups_total{result=\"error\"} 0"));
  // One series per status, each named as $spa_auth_result names it.
  size_t series = 0;
  for (size_t at = 0; (at = text.find("\nspa_auth_decisions_total{", at)) != std::string::npos; ++at) ++series;
  ck_assert_uint_eq(series, kStatusCount);
  ck_assert(text.find("result=\"unknown\"") == std::string::npos);
}
END_TEST

// spa-authd's registry is per process: these assert what moved.
uint64_t value_of(const std::string& text, const std::string& series) {
  size_t at = text.find("\n" + series + " ");
  if (at == std::string::npos) return UINT64_MAX;
  return std::stoull(text.substr(at + series.size() + 2));
}

START_TEST(authd_counters_and_histograms) {
  namespace m = spa::authd::metrics;
  std::string before = m::text();
  const std::string logins = "spa_authd_logins_total{outcome=\"success\"}";
  uint64_t logins0 = value_of(before, logins);
  ck_assert(logins0 != UINT64_MAX);  // seeded: there before any login
  uint64_t lockouts0 = value_of(before, "spa_authd_lockouts_total");
  m::count(m::Family::kLogins, {"success"});
  m::count(m::Family::kLogins, {"success"});
  m::count(m::Family::kOAuth, {"corp", "callback", "invalid_state"});
  m::count(m::Family::kOAuth, {"a\"b\\c\nd", "start", "success"});  // escaped, whatever it holds
  m::count(m::Family::kLockouts);
  m::declare_route("GET", "/t/{id}");
  m::observe_route("GET", "/t/{id}", 0.0003);
  m::observe_route("GET", "/t/{id}", 0.003);
  m::observe_route("GET", "/t/{id}", 60);
  m::observe_route("GET", "/never/declared", 0.1);  // a route not in the table makes no series
  std::string text = m::text();
  ck_assert_uint_eq(value_of(text, logins), logins0 + 2);
  ck_assert_uint_eq(value_of(text, "spa_authd_lockouts_total"), lockouts0 + 1);
  ck_assert_uint_eq(value_of(text, "spa_authd_oauth_total{provider=\"corp\",step=\"callback\",outcome=\"invalid_state\"}"), 1);
  ck_assert_uint_eq(value_of(text, "spa_authd_oauth_total{provider=\"a\\\"b\\\\c\\nd\",step=\"start\",outcome=\"success\"}"), 1);
  const std::string l = "method=\"GET\",route=\"/t/{id}\"";
  ck_assert_uint_eq(value_of(text, "spa_authd_request_duration_seconds_bucket{" + l + ",le=\"0.0005\"}"), 1);
  ck_assert_uint_eq(value_of(text, "spa_authd_request_duration_seconds_bucket{" + l + ",le=\"0.005\"}"), 2);  // cumulative
  ck_assert_uint_eq(value_of(text, "spa_authd_request_duration_seconds_bucket{" + l + ",le=\"10\"}"), 2);
  ck_assert_uint_eq(value_of(text, "spa_authd_request_duration_seconds_bucket{" + l + ",le=\"+Inf\"}"), 3);
  ck_assert_uint_eq(value_of(text, "spa_authd_request_duration_seconds_count{" + l + "}"), 3);
  ck_assert(text.find("/never/declared") == std::string::npos);
  ck_assert(text.find("# TYPE spa_authd_request_duration_seconds histogram\n") != std::string::npos);
}
END_TEST

}  // namespace

Suite* metrics_text_suite() {
  Suite* s = suite_create("metrics_text");
  TCase* t = tcase_create("core");
  tcase_add_test(t, limit_families_by_zone);
  tcase_add_test(t, websocket_closes_by_reason);
  tcase_add_test(t, module_decisions_cache_jwks_store);
  tcase_add_test(t, authd_counters_and_histograms);
  suite_add_tcase(s, t);
  return s;
}

REGISTER_SUITE(metrics_text_suite);
