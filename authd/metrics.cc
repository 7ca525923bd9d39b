#include "authd/metrics.h"

#include <array>
#include <cstdio>
#include <map>
#include <mutex>
#include <vector>

#include "core/metrics_text.h"

namespace spa::authd::metrics {
namespace {

struct FamilyInfo {
  std::string_view name;
  std::string_view help;
  std::vector<std::string_view> labels;
  std::vector<std::vector<std::string_view>> seeded;  // series shown at 0 before their first count
};

const std::array<FamilyInfo, kFamilyCount>& families() {
  static const std::array<FamilyInfo, kFamilyCount> kFamilies = {{
      {"spa_authd_logins_total",
       "Password logins by outcome: success, mfa_required (the second step is asked for) or the error code.",
       {"outcome"},
       {{"success"}, {"mfa_required"}, {"invalid_credentials"}, {"account_locked"}, {"server_busy"}}},
      {"spa_authd_second_factor_total",
       "Second steps of a login (POST /api/v1/mfa/verify, verify-backup) by method (totp, email, backup; "
       "unknown when the mfa_token is not valid) and outcome.",
       {"method", "outcome"},
       {{"totp", "success"}, {"totp", "invalid_code"}, {"email", "success"}, {"email", "invalid_code"},
        {"backup", "success"}, {"backup", "invalid_code"}}},
      {"spa_authd_refreshes_total", "Refresh-token rotations by outcome: success or the error code.",
       {"outcome"},
       {{"success"}, {"invalid_token"}}},
      {"spa_authd_refresh_reuse_total",
       "Spent refresh tokens presented again after the grace window; each ended its session.",
       {},
       {{}}},
      {"spa_authd_lockouts_total", "Addresses locked after repeated failed passwords or codes.", {}, {{}}},
      {"spa_authd_oauth_total",
       "OAuth/OIDC sign-in steps by provider, step (start, callback) and outcome: success, mfa_required, "
       "linked or the error code (reason).",
       {"provider", "step", "outcome"},
       {}},
  }};
  return kFamilies;
}

// Histogram bounds in seconds: from a cached read to an Argon2 login
// waiting its turn.
constexpr std::array<double, 13> kBounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                            0.1,    0.25,  0.5,    1,     2.5,  10};

struct Histogram {
  std::array<uint64_t, kBounds.size()> buckets{};  // not cumulative here; summed when written
  uint64_t count = 0;
  double sum = 0;
};

std::string escape(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\', out += c;
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string labels_text(const std::vector<std::string_view>& names, const std::vector<std::string_view>& values) {
  std::string out;
  size_t i = 0;
  for (std::string_view v : values) {
    if (i >= names.size()) break;
    if (!out.empty()) out += ',';
    out += std::string(names[i++]) + "=\"" + escape(v) + "\"";
  }
  return out;
}

std::string route_labels(std::string_view method, std::string_view route) {
  return "method=\"" + escape(method) + "\",route=\"" + escape(route) + "\"";
}

struct Registry {
  std::mutex mu;
  std::array<std::map<std::string, uint64_t>, kFamilyCount> counters;
  std::map<std::string, Histogram> routes;  // by route_labels

  Registry() {
    for (size_t f = 0; f < families().size(); ++f)
      for (const auto& seed : families()[f].seeded) counters[f][labels_text(families()[f].labels, seed)] = 0;
  }
};

Registry& registry() {
  static Registry r;
  return r;
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

}  // namespace

void count(Family family, std::initializer_list<std::string_view> labels) {
  size_t f = static_cast<size_t>(family);
  std::string key = labels_text(families()[f].labels, std::vector<std::string_view>(labels));
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  ++r.counters[f][key];
}

std::string_view outcome(const Outcome& o) {
  if (!o.ok()) return o.code;
  return o.data.is_object() && o.data.value("mfa_required", false) ? "mfa_required" : "success";
}

void declare_route(std::string_view method, std::string_view route) {
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  r.routes.try_emplace(route_labels(method, route));
}

void observe_route(std::string_view method, std::string_view route, double seconds) {
  std::string key = route_labels(method, route);
  size_t bucket = 0;
  while (bucket < kBounds.size() && seconds > kBounds[bucket]) ++bucket;
  Registry& r = registry();
  std::lock_guard<std::mutex> lock(r.mu);
  auto it = r.routes.find(key);
  if (it == r.routes.end()) return;  // only declared routes have series
  Histogram& h = it->second;
  if (bucket < kBounds.size()) ++h.buckets[bucket];
  ++h.count;
  h.sum += seconds;
}

std::string text() {
  Registry& r = registry();
  std::string out;
  std::lock_guard<std::mutex> lock(r.mu);
  for (size_t f = 0; f < families().size(); ++f) {
    const FamilyInfo& info = families()[f];
    out += core::metric_family(info.name, "counter", info.help);
    for (const auto& [labels, n] : r.counters[f]) out += core::metric_sample(info.name, labels, n);
  }
  out += core::metric_family("spa_authd_request_duration_seconds", "histogram",
                             "Time a route's handler took to answer, by route.");
  for (const auto& [labels, h] : r.routes) {
    uint64_t cumulative = 0;
    for (size_t i = 0; i < kBounds.size(); ++i) {
      cumulative += h.buckets[i];
      out += "spa_authd_request_duration_seconds_bucket{" + labels + ",le=\"" + number(kBounds[i]) + "\"} " +
             std::to_string(cumulative) + "\n";
    }
    out += "spa_authd_request_duration_seconds_bucket{" + labels + ",le=\"+Inf\"} " + std::to_string(h.count) + "\n";
    out += "spa_authd_request_duration_seconds_sum{" + labels + "} " + number(h.sum) + "\n";
    out += "spa_authd_request_duration_seconds_count{" + labels + "} " + std::to_string(h.count) + "\n";
  }
  return out;
}

}  // namespace spa::authd::metrics
