#include "core/status.h"

#include "core/module_defaults.h"

namespace spa::core {

StatusInfo status_info(Status s) {
  using C = Challenge;
  // No default: the compiler refuses a Status that has no line here.
  switch (s) {
    //                                   $spa_auth_result     HTTP  body error.code / error=               challenge   description
    case Status::kOk:               return {"ok",                 0, "",                                  C::kNone,   "token accepted"};
    case Status::kMissing:          return {"missing",            401, "missing_token",                   C::kRealm,  "no access token"};
    case Status::kMalformed:        return {"malformed",          401, "invalid_token",                   C::kError,  "token is malformed"};
    case Status::kAlgNotAllowed:    return {"alg_not_allowed",    401, "invalid_token",                   C::kError,  "token algorithm is not allowed"};
    case Status::kUnknownKid:       return {"unknown_kid",        401, "invalid_token",                   C::kError,  "token signing key is unknown"};
    case Status::kBadSignature:     return {"bad_signature",      401, "invalid_token",                   C::kError,  "token signature is invalid"};
    case Status::kExpired:          return {"expired",            401, "invalid_token",                   C::kError,  "token expired"};
    case Status::kNotYetValid:      return {"not_yet_valid",      401, "invalid_token",                   C::kError,  "token is not yet valid"};
    case Status::kWrongIssuer:      return {"wrong_issuer",       401, "invalid_token",                   C::kError,  "token issuer is not accepted"};
    case Status::kWrongAudience:    return {"wrong_audience",     401, "invalid_token",                   C::kError,  "token audience is not accepted"};
    case Status::kRevoked:          return {"revoked",            401, "invalid_token",                   C::kError,  "session revoked"};
    case Status::kStoreUnavailable: return {"store_unavailable",  503, "temporarily_unavailable",         C::kRealm,  "session store unavailable"};
    case Status::kForbidden:        return {"forbidden",          403, "insufficient_scope",              C::kError,  "token does not grant access to this resource"};
    case Status::kMfaRequired:      return {"mfa_required",       401, "insufficient_user_authentication", C::kStepUp, "a second authentication factor is required"};
    case Status::kAuthTooOld:       return {"auth_too_old",       401, "insufficient_user_authentication", C::kStepUp, "a more recent authentication is required"};
    case Status::kUnsafeClaim:      return {"unsafe_claim",       401, "invalid_token",                   C::kError,  "token has a claim that cannot be passed on"};
    case Status::kOriginNotAllowed: return {"origin_not_allowed", 403, "origin_not_allowed",              C::kNone,   "this page may not make this request"};
    case Status::kDuplicateCookie:  return {"duplicate_cookie",   401, "invalid_token",                   C::kError,  "the token cookie was sent more than once"};
  }
  return {"unknown", 401, "invalid_token", C::kError, "unknown"};
}

std::string_view status_name(Status s) { return status_info(s).name; }

std::string_view status_description(Status s) { return status_info(s).description; }

std::string www_authenticate(Status s, std::optional<int64_t> max_age) {
  StatusInfo info = status_info(s);
  std::string v = "Bearer realm=\"";
  v += module_defaults::kRealm;
  v += "\"";
  if (info.challenge == Challenge::kRealm) return v;
  v += ", error=\"";
  v += info.error_code;
  v += "\", error_description=\"";
  v += info.description;
  v += "\"";
  if (info.challenge == Challenge::kStepUp && max_age) v += ", max_age=" + std::to_string(*max_age);
  return v;
}

}  // namespace spa::core
