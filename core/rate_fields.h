// The fields of a rate-limited answer as text: RateLimit-Policy and
// RateLimit (draft-ietf-httpapi-ratelimit-headers: Structured Field lists,
// one item per zone, named after the zone) and Retry-After (RFC 9110
// §10.2.3, whole seconds).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/gcra.h"

namespace spa::core {

// "NAME";q=N;w=SECONDS: the zone's quota and window. Made once per zone.
std::string rate_limit_policy(std::string_view zone, const RateLimit& rate);

// "NAME";r=REMAINING;t=SECONDS: what is left now, and until when: the
// bucket's reset when the request passed, the wait when it was refused.
std::string rate_limit_state(std::string_view zone, const RateDecision& d);

// Retry-After for a refused request: rounded up, at least one second.
int64_t retry_after_seconds(const RateDecision& d);

// The refusal's message for the JSON envelope.
std::string rate_limited_message(int64_t retry_after);

}  // namespace spa::core
