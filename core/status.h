// The outcome of checking one request's token. The first failure wins; the
// name is what $spa_auth_result shows and the docs list.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace spa::core {

enum class Status {
  kOk,
  kMissing,          // no token in any configured source
  kMalformed,        // not a well-formed JWS/JWT, or a claim of the wrong type
  kAlgNotAllowed,    // "none", not in the allowlist, or not the key's type
  kUnknownKid,       // no key in the JWKS for this token
  kBadSignature,
  kExpired,
  kNotYetValid,      // nbf, or iat, in the future beyond leeway
  kWrongIssuer,
  kWrongAudience,
  kRevoked,          // session revoked, unknown, or its user disabled
  kStoreUnavailable, // the session store could not be read: fail closed
  kForbidden,        // a spa_auth_require did not match
  kMfaRequired,      // spa_auth_require_mfa and no second factor in amr
  kAuthTooOld,       // spa_auth_max_age: auth_time missing or too long ago
  kUnsafeClaim,      // a claim for a spa_auth_claim_header cannot be a header value
  kOriginNotAllowed, // spa_auth_csrf_origin / spa_auth_websocket_origin refused the Origin
  kDuplicateCookie,  // the token cookie's name was sent more than once (a planted cookie)
};
// How many statuses there are (kDuplicateCookie is the last): the module's
// decision counters are indexed by Status.
inline constexpr size_t kStatusCount = static_cast<size_t>(Status::kDuplicateCookie) + 1;

// What a refusal says in WWW-Authenticate (RFC 6750 §3, RFC 9470 §3).
enum class Challenge {
  kNone,    // not a token problem (an Origin refusal): the module's own answer has no challenge
  kRealm,   // `Bearer realm="spa"` alone: no token was sent (RFC 6750 §3), or the fault is ours
  kError,   // plus error="<error_code>", error_description="<description>"
  kStepUp,  // kError, plus max_age=N when the location has spa_auth_max_age (RFC 9470 §3)
};

// Everything a status means outside the module: one line per status in
// status.cc, the only place that maps a status to HTTP.
struct StatusInfo {
  std::string_view name;          // $spa_auth_result: "ok", "bad_signature", ...
  int http = 0;                   // the refusal's HTTP status; 0 for kOk (the request goes on)
  std::string_view error_code;    // the refusal's body error.code and the challenge's error=
  Challenge challenge = Challenge::kNone;
  std::string_view description;   // error_description, the body's message, logs; never token data
};

StatusInfo status_info(Status s);

// Stable snake_case name: "ok", "bad_signature", ... (status_info(s).name)
std::string_view status_name(Status s);

// One short sentence for error_description and logs. Never contains token data.
std::string_view status_description(Status s);

// The WWW-Authenticate value for a refusal with `s`. `max_age` is the
// location's spa_auth_max_age, named by step-up challenges. kNone statuses
// read as kError here: a refusal handed back to nginx under `satisfy any`
// carries a challenge whatever the reason.
std::string www_authenticate(Status s, std::optional<int64_t> max_age);

}  // namespace spa::core
