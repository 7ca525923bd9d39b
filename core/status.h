// The outcome of checking one request's token. The first failure wins; the
// name is what $spa_auth_result shows and the docs list.
#pragma once

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

// Stable snake_case name: "ok", "bad_signature", ...
std::string_view status_name(Status s);

// One short sentence for error_description and logs. Never contains token data.
std::string_view status_description(Status s);

}  // namespace spa::core
