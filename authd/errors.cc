// The one table from Errc to what a client sees: HTTP status and code.
// A switch, so that a new Errc without a line here does not compile
// (-Wswitch under -Werror).
#include "authd/errors.h"

namespace spa::authd {
namespace {

struct Wire {
  int status;
  std::string_view code;
};

Wire wire(Errc e) {
  switch (e) {
    case Errc::kOk: return {200, ""};
    case Errc::kStoreFull: return {503, "store_full"};
    case Errc::kStoreReplaced: return {503, "store_unavailable"};
    case Errc::kStoreUnwritable: return {503, "store_unavailable"};
    case Errc::kStoreUnavailable: return {503, "store_unavailable"};
    case Errc::kStoreFailed: return {500, "internal_error"};
    case Errc::kInternal: return {500, "internal_error"};
    case Errc::kInvalidRequest: return {400, "invalid_request"};
    case Errc::kValidationFailed: return {400, "validation_failed"};
    case Errc::kDuplicateCookie: return {400, "duplicate_cookie"};
    case Errc::kEmailRequired: return {400, "email_required"};
    case Errc::kInvalidRedirect: return {400, "invalid_redirect"};
    case Errc::kMfaNotEnabled: return {400, "mfa_not_enabled"};
    case Errc::kMfaNotSetUp: return {400, "mfa_not_set_up"};
    case Errc::kInvalidToken: return {401, "invalid_token"};
    case Errc::kInvalidCredentials: return {401, "invalid_credentials"};
    case Errc::kInvalidCode: return {401, "invalid_code"};
    case Errc::kReauthenticationRequired: return {401, "reauthentication_required"};
    case Errc::kAccountDisabled: return {403, "account_disabled"};
    case Errc::kEmailNotVerified: return {403, "email_not_verified"};
    case Errc::kForbidden: return {403, "forbidden"};
    case Errc::kMfaRequired: return {403, "mfa_required"};
    case Errc::kOriginNotAllowed: return {403, "origin_not_allowed"};
    case Errc::kNotFound: return {404, "not_found"};
    case Errc::kNotLinked: return {404, "not_linked"};
    case Errc::kUnknownProvider: return {404, "unknown_provider"};
    case Errc::kAccountExists: return {409, "account_exists"};
    case Errc::kIdentityInUse: return {409, "identity_in_use"};
    case Errc::kLastSignInMethod: return {409, "last_sign_in_method"};
    case Errc::kMfaAlreadyEnabled: return {409, "mfa_already_enabled"};
    case Errc::kProviderAlreadyLinked: return {409, "provider_already_linked"};
    case Errc::kUsernameTaken: return {409, "username_taken"};
    case Errc::kAccountLocked: return {423, "account_locked"};
    case Errc::kMailRateLimited: return {429, "mail_rate_limited"};
    case Errc::kProviderUnavailable: return {502, "provider_unavailable"};
    case Errc::kProviderBusy: return {503, "provider_busy"};
    case Errc::kServerBusy: return {503, "server_busy"};
    case Errc::kKeysUnavailable: return {503, "unavailable"};
    case Errc::kProviderError: return {502, "provider_error"};
    case Errc::kInvalidIdToken: return {502, "invalid_id_token"};
    case Errc::kInvalidState: return {400, "invalid_state"};
    case Errc::kAccessDenied: return {403, "access_denied"};
  }
  return {500, "internal_error"};  // not an Errc at all
}

}  // namespace

int http_status(Errc e) { return wire(e).status; }

std::string_view error_code(Errc e) { return wire(e).code; }

}  // namespace spa::authd
