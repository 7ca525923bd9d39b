#include "core/status.h"

namespace spa::core {

std::string_view status_name(Status s) {
  switch (s) {
    case Status::kOk: return "ok";
    case Status::kMissing: return "missing";
    case Status::kMalformed: return "malformed";
    case Status::kAlgNotAllowed: return "alg_not_allowed";
    case Status::kUnknownKid: return "unknown_kid";
    case Status::kBadSignature: return "bad_signature";
    case Status::kExpired: return "expired";
    case Status::kNotYetValid: return "not_yet_valid";
    case Status::kWrongIssuer: return "wrong_issuer";
    case Status::kWrongAudience: return "wrong_audience";
    case Status::kRevoked: return "revoked";
    case Status::kStoreUnavailable: return "store_unavailable";
    case Status::kForbidden: return "forbidden";
    case Status::kMfaRequired: return "mfa_required";
    case Status::kAuthTooOld: return "auth_too_old";
    case Status::kUnsafeClaim: return "unsafe_claim";
    case Status::kOriginNotAllowed: return "origin_not_allowed";
    case Status::kDuplicateCookie: return "duplicate_cookie";
  }
  return "unknown";
}

std::string_view status_description(Status s) {
  switch (s) {
    case Status::kOk: return "token accepted";
    case Status::kMissing: return "no access token";
    case Status::kMalformed: return "token is malformed";
    case Status::kAlgNotAllowed: return "token algorithm is not allowed";
    case Status::kUnknownKid: return "token signing key is unknown";
    case Status::kBadSignature: return "token signature is invalid";
    case Status::kExpired: return "token expired";
    case Status::kNotYetValid: return "token is not yet valid";
    case Status::kWrongIssuer: return "token issuer is not accepted";
    case Status::kWrongAudience: return "token audience is not accepted";
    case Status::kRevoked: return "session revoked";
    case Status::kStoreUnavailable: return "session store unavailable";
    case Status::kForbidden: return "token does not grant access to this resource";
    case Status::kMfaRequired: return "a second authentication factor is required";
    case Status::kAuthTooOld: return "a more recent authentication is required";
    case Status::kUnsafeClaim: return "token has a claim that cannot be passed on";
    case Status::kOriginNotAllowed: return "this page may not make this request";
    case Status::kDuplicateCookie: return "the token cookie was sent more than once";
  }
  return "unknown";
}

}  // namespace spa::core
