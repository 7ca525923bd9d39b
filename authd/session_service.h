// Sessions: password login, refresh rotation, logout, a user's list of
// sessions, and the check of an access token every signed-in route makes
// (authd/session_service.cc). How a session starts is SessionIssuer's, so
// that every way in (password, provider, second factor) starts it alike.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "authd/service_types.h"
#include "authd/session_issuer.h"

namespace spa::authd {

class SessionService : public ServiceBase {
 public:
  using ServiceBase::ServiceBase;

  // Tokens, or (MFA on) data {mfa_required, mfa_token, method}.
  Outcome login(const std::string& email, const std::string& password, const ClientInfo& client);
  // authd/refresh_rotation.h decides; this applies it.
  Outcome refresh(const std::string& refresh_token, const ClientInfo& client);
  // The session of `who`, or else the one `refresh_token` belongs to.
  Outcome logout(const std::optional<Principal>& who, const std::string& refresh_token, const ClientInfo& client);
  Outcome list_sessions(const Principal& who);
  Outcome revoke_session(const Principal& who, const std::string& sid, const ClientInfo& client);

  // Verifies an access token (signature, claims, session); nullopt with
  // `why` when it is not acceptable.
  std::optional<Principal> authenticate(std::string_view access_token, std::string& why);
};

}  // namespace spa::authd
