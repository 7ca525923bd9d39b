// One error channel from the store to the route: a typed code plus a
// message for the log, never decided by parsing a message. The HTTP
// status and snake_case code of each Errc live in one table (errors.cc),
// the way the module maps core::Status.
//
// Ownership while issue 13 lands: the store layer produces the kStore*
// codes; the services add their API codes below the marker.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace spa::authd {

enum class Errc : uint8_t {
  kOk = 0,
  // The store (authd/store.h).
  kStoreFull,      // refused: past [store] max_size (503 store_full)
  kStoreReplaced,  // data.mdb was replaced underneath (503 store_unavailable)
  kStoreUnwritable,  // the file system refused a write: EPERM, EIO, ENOSPC, ... (503 store_unavailable)
  kStoreUnavailable,  // PostgreSQL cannot be reached, or refuses for now (503 store_unavailable)
  kStoreFailed,    // any other store failure (500 internal_error, logged)
  // API codes (services) go below.
  kInternal,               // anything else that should not happen (a route threw, signing failed)
  // 400: the request itself
  kInvalidRequest,         // the body is not a JSON object
  kValidationFailed,       // a field is missing, of the wrong type, too long or against the rules
  kDuplicateCookie,        // one of our cookies came twice (a planted one beside ours)
  kEmailRequired,          // the provider gave no e-mail address
  kInvalidRedirect,        // redirect_to is neither on this site nor allowed
  kMfaNotEnabled,
  kMfaNotSetUp,
  // 401: who is asking is not proven
  kInvalidToken,           // access, refresh, mfa, reset or verification token
  kInvalidCredentials,     // a wrong password (counted toward the lockout)
  kInvalidCode,            // a wrong, expired or spent one-time or backup code (counted)
  kReauthenticationRequired,  // auth_time too old for this action (RFC 9470, with max_age)
  // 403
  kAccountDisabled,
  kEmailNotVerified,
  kForbidden,              // administrators only
  kMfaRequired,            // administration without a second factor
  kOriginNotAllowed,
  // 404
  kNotFound,
  kNotLinked,
  kUnknownProvider,
  // 409
  kAccountExists,
  kIdentityInUse,
  kLastSignInMethod,
  kMfaAlreadyEnabled,
  kProviderAlreadyLinked,
  kUsernameTaken,
  // 423, 429
  kAccountLocked,          // with Retry-After
  kMailRateLimited,        // with Retry-After
  // 502, 503: someone else is slow or gone
  kProviderUnavailable,    // the sign-in provider cannot be reached
  kProviderBusy,           // every call to the provider is in use (Retry-After)
  kServerBusy,             // every Argon2 slot busy, the queue full (Retry-After)
  kKeysUnavailable,        // jwks.json is not published (503 unavailable)
  // Only in an OAuth redirect's error= (the login page reads them); their
  // status is what they would be as an answer, never sent today.
  kProviderError,          // the provider answered an error or nonsense
  kInvalidIdToken,         // the ID token (or userinfo) did not pass the checks
  kInvalidState,           // state unknown, expired, used, from another browser; wrong iss
  kAccessDenied,           // the user said no at the provider
};

// The HTTP status of `e` (200 for kOk).
int http_status(Errc e);
// Its snake_case code for the envelope ("" for kOk).
std::string_view error_code(Errc e);

struct Error {
  Errc code = Errc::kOk;
  std::string message;  // for the log; never shown to a client as is
  bool ok() const { return code == Errc::kOk; }
};

}  // namespace spa::authd
