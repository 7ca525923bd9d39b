// The nginx module's defaults and bounds, each named once. Here in core/
// (no nginx types) so that core's own types default to the same values
// (ClaimPolicy's leeway) and the unit tests can hold the docs to them.
// A directive not set at any level takes the value named here; the
// on|off directives not listed default to off.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace spa::core::module_defaults {

// spa_auth_leeway: clock skew for exp/nbf/iat. The token cache keeps
// entries kMaxLeewaySeconds past exp, so no location's leeway outlives its
// cache entry.
inline constexpr int64_t kLeewaySeconds = 30;
inline constexpr int64_t kMaxLeewaySeconds = 600;

// spa_auth_token: `header cookie=__Host-spa_at` (and `subprotocol` in a
// spa_auth_websocket location). The token cookies, spa-authd's refresh
// cookie and RFC 6750 §2.3's query parameter never go upstream.
inline constexpr std::string_view kAccessCookie = "__Host-spa_at";
inline constexpr std::string_view kRefreshCookie = "__Secure-spa_rt";
inline constexpr std::string_view kBearerQueryName = "access_token";

// spa_auth_cache_size: verified tokens kept per worker; about 2.7 KiB each
// for a typical access token.
inline constexpr size_t kCacheEntries = 4096;
inline constexpr size_t kMaxCacheEntries = 10'000'000;

// spa_auth_max_age TIME: 1s to 366 days (off by default).
inline constexpr int64_t kMinMaxAgeSeconds = 1;
inline constexpr int64_t kMaxMaxAgeSeconds = 366 * 86400;

// spa_auth_identity_prefix: this prefix once any spa_auth_claim_header is
// set; a configured prefix has at least kMinIdentityPrefix characters.
inline constexpr std::string_view kIdentityPrefix = "X-User-";
inline constexpr size_t kMinIdentityPrefix = 2;

// spa_auth_websocket_recheck: how often an open socket's session is read
// again, 1s to 1h.
inline constexpr int64_t kWebSocketRecheckMs = 10'000;
inline constexpr int64_t kMinWebSocketRecheckMs = 1'000;
inline constexpr int64_t kMaxWebSocketRecheckMs = 3'600'000;
// How long a due close waits for the frame under way to end before the
// connection is closed without a close frame; and the close frame's code.
inline constexpr int64_t kCloseBoundaryWaitMs = 2'000;
inline constexpr uint16_t kCloseCode = 4401;

// spa_auth_limit_zone's smallest size, and the module's metrics zone, in
// pages of shared memory.
inline constexpr size_t kMinLimitZonePages = 8;
inline constexpr size_t kMetricsZonePages = 8;

// The realm of every WWW-Authenticate challenge.
inline constexpr std::string_view kRealm = "spa";

}  // namespace spa::core::module_defaults
