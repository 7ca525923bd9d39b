// The second factor (authd/mfa.cc): TOTP (RFC 6238 via liboath) or a code
// by e-mail, with backup codes; turning it on and off, and completing a
// login the gate (SessionIssuer::finish_first_factor) left waiting. The
// codes themselves are FactorCodes'.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "authd/service_types.h"
#include "authd/session_issuer.h"

namespace spa::authd {

class SecondFactorService : public ServiceBase {
 public:
  using ServiceBase::ServiceBase;

  Outcome mfa_setup(const Principal& who);
  // The e-mail method, for users without an authenticator app: a 6-digit
  // code by mail, 10 minutes (FactorCodes::kEmailCodeTtl), single use,
  // stored as a keyed hash.
  Outcome mfa_setup_email(const Principal& who, const ClientInfo& client);
  Outcome mfa_send_email_code(const Principal& who, const ClientInfo& client);
  Outcome mfa_enable(const Principal& who, const std::string& code, const ClientInfo& client);
  Outcome mfa_disable(const Principal& who, const std::string& code, const ClientInfo& client);
  Outcome mfa_new_backup_codes(const Principal& who, const std::string& code, const ClientInfo& client);
  Outcome mfa_status(const Principal& who);
  // Completes a login waiting for its second factor: tokens for a good code.
  Outcome mfa_verify(const std::string& mfa_token, const std::string& code, bool backup_code, const ClientInfo& client);
  static constexpr int kMfaTokenAttempts = 5;  // wrong codes before the mfa_token dies

 private:
  // Stores a fresh e-mailed code once `check` allows it (it may reshape
  // the record, or answer with a refusal) and mails it after the commit.
  Outcome mail_action_code(const Principal& who, const ClientInfo& client, const char* event,
                           const std::function<std::optional<Outcome>(UserRecord&)>& check);
  // Runs `action` on the user record after a current, unspent code (an
  // action on an enabled second factor); a wrong code counts toward the
  // lockout. The record is saved with whatever `action` changed; false
  // from `action`: a store call failed (the transaction's result).
  Outcome with_current_code(const Principal& who, const std::string& code, const ClientInfo& client,
                            const std::function<bool(Store::Txn&, UserRecord&, Outcome&)>& action);
};

}  // namespace spa::authd
