// spa-authd's own counters and per-route latency histograms, for
// GET /metrics (Prometheus text, exposition format 0.0.4), next to the
// gauges the store, the mailer, the Argon2 gate and the OAuth calls report
// themselves (authd/main.cc lists the sources).
//
// One registry per process. Every label value comes from the code, never
// from a request: outcomes are Errc codes (authd/errors.h) or a fixed word,
// methods and steps fixed words, providers the configured names, routes
// the route table's patterns. The number of series is bounded by the build
// and the config, whatever clients send.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "authd/service_types.h"

namespace spa::authd::metrics {

enum class Family : uint8_t {
  kLogins,        // password logins: {outcome}
  kSecondFactor,  // a login's second step: {method, outcome}
  kRefreshes,     // refresh-token rotations: {outcome}
  kRefreshReuse,  // a spent refresh token came back: the session was ended
  kLockouts,      // an address locked after repeated failures
  kOAuth,         // OAuth/OIDC sign-in steps: {provider, step, outcome}
};
inline constexpr size_t kFamilyCount = static_cast<size_t>(Family::kOAuth) + 1;  // kOAuth is the last

// Adds one to the series of `family` with these label values, in the order
// the family names its labels.
void count(Family family, std::initializer_list<std::string_view> labels = {});

// The outcome label of an answer: "success", "mfa_required" (a first factor
// passed, the second is asked for), or the error's code.
std::string_view outcome(const Outcome& o);

// A route's latency histogram: declared at start (so every route has its
// series from the first scrape), then one observation per answered request.
void declare_route(std::string_view method, std::string_view route);
void observe_route(std::string_view method, std::string_view route, double seconds);

// Every family, with HELP and TYPE lines.
std::string text();

}  // namespace spa::authd::metrics
