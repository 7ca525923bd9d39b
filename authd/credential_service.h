// Credentials: proving them again and replacing them. Password reset by
// e-mailed link (authd/password_reset.cc), re-authentication for a fresh
// auth_time and the password change behind it (authd/reauthentication.cc).
// Each ends the sessions or the epoch that the old credentials started.
#pragma once

#include <string>

#include "authd/service_types.h"
#include "authd/session_issuer.h"

namespace spa::authd {

class CredentialService : public ServiceBase {
 public:
  using ServiceBase::ServiceBase;

  // The request answers the same whether or not the e-mail has an account.
  Outcome password_reset_request(const std::string& email, const ClientInfo& client);
  Outcome password_reset_confirm(const std::string& token, const std::string& password, const ClientInfo& client);
  static constexpr int64_t kResetTokenTtl = 30 * 60;

  // POST /api/v1/auth/reauthenticate: the password, or a current second
  // factor (TOTP, e-mailed code, backup code); answers a new session with
  // a fresh auth_time (SessionIssuer::kRecentAuth says how long it counts).
  Outcome reauthenticate(const Principal& who, const std::string& password, const std::string& code,
                         bool backup_code, const ClientInfo& client);
  // POST /api/v1/auth/password: a new password (recent authentication).
  // Every other session ends; this one continues with a new access token
  // and refuses every token issued before.
  Outcome change_password(const Principal& who, const std::string& password, const ClientInfo& client);
};

}  // namespace spa::authd
