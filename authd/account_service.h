// Accounts: sign-up, whoami, and proving the address (authd/account_service.cc,
// authd/email_verification.cc). What an account is and whether its address
// is proven; how one signs in to it is SessionService's.
#pragma once

#include <string>

#include "authd/service_types.h"
#include "authd/session_issuer.h"

namespace spa::authd {

class AccountService : public ServiceBase {
 public:
  using ServiceBase::ServiceBase;

  // A taken address answers exactly as a new one (no account oracle); its
  // owner gets a notice instead of the verification link.
  Outcome signup(const std::string& email, const std::string& username, const std::string& password,
                 const ClientInfo& client);
  Outcome me(const Principal& who);

  // E-mail verification: a single-use link, 24 hours, stored hashed.
  // Sign-up sends the first one.
  Outcome verify_email_request(const std::string& email, const ClientInfo& client);
  // The link proves the address; the account's password proves that the
  // one who chose it is the one who reads that mailbox (a squatter's
  // sign-up is not confirmed by its victim clicking a link). An account
  // without a password is claimed instead (claim_unverified_account),
  // unless `who` is a live session of that very account (its owner,
  // signed in with the provider, confirming from the SPA).
  Outcome verify_email_confirm(const std::string& token, const std::string& password, const ClientInfo& client,
                               const Principal* who = nullptr);
  static constexpr int64_t kVerifyTokenTtl = 24 * 3600;

  // Accounts whose address was never confirmed are erased this long after
  // sign-up (with require_verified_email they cannot sign in, and they
  // would squat the address and the username for ever); set here, swept
  // by PrivacyService::sweep_unverified.
  static constexpr int64_t kUnverifiedTtl = 7 * 86400;

 private:
  std::string new_verify_link(Store::Txn& t, const UserRecord& user, int64_t now);
  void mail_verify_link(const std::string& address, const std::string& token);
};

}  // namespace spa::authd
