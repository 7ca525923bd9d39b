// Every service of one spa-authd, built around one SessionIssuer. It adds
// no behaviour of its own: main.cc builds one, routes.cc hands each group
// of routes the one service it calls (a reference to a base), and the CLI,
// the unit tests and the store bench reach the whole API through it.
//
// Why the services are cut as they are (each header says its job):
//   AccountService       what an account is: sign-up, whoami, a proven address
//   SessionService       signing in with a password and living in a session:
//                        login, refresh, logout, sessions, token checks
//   SecondFactorService  the second factor: set up, on, off, backup codes, and
//                        the login the gate left waiting
//   CredentialService    proving credentials again and replacing them: reset
//                        link, re-authentication, password change
//   IdentityService      provider accounts: sign-in, link, unlink
//   PrivacyService       GDPR: export, erasure, unproven accounts swept
//   AdminService         administration and the CLI's set-role
// Every rule two of them share (tokens, sessions, the second-factor gate,
// lockout, credential epoch, recent authentication, audit, mail) is
// SessionIssuer's; services never call each other, so each can move to
// its own store transactions (the next phase) on its own.
#pragma once

#include <string>
#include <utility>

#include "authd/account_service.h"
#include "authd/admin_service.h"
#include "authd/credential_service.h"
#include "authd/identity_service.h"
#include "authd/privacy_service.h"
#include "authd/second_factor_service.h"
#include "authd/service_types.h"
#include "authd/session_issuer.h"
#include "authd/session_service.h"

namespace spa::authd {

class MailSender;

namespace detail {
// The issuer as the first base, so that it is built before the services
// that keep a reference to it (bases are built in the order they are listed).
struct IssuerHolder {
  template <class... Args>
  explicit IssuerHolder(Args&&... args) : shared_issuer(std::forward<Args>(args)...) {}
  SessionIssuer shared_issuer;
};
}  // namespace detail

class AuthService : private detail::IssuerHolder,
                    public AccountService,
                    public SessionService,
                    public SecondFactorService,
                    public CredentialService,
                    public IdentityService,
                    public PrivacyService,
                    public AdminService {
 public:
  using Clock = SessionIssuer::Clock;

  // `mfa_key`: 32 bytes from [mfa] secret_key_file (SessionIssuer).
  AuthService(const Config& config, Store& store, SigningKeys& keys, const PasswordHasher& hasher, Clock clock,
              std::string mfa_key)
      : IssuerHolder(config, store, keys, hasher, std::move(clock), std::move(mfa_key)),
        AccountService(config, store, shared_issuer),
        SessionService(config, store, shared_issuer),
        SecondFactorService(config, store, shared_issuer),
        CredentialService(config, store, shared_issuer),
        IdentityService(config, store, shared_issuer),
        PrivacyService(config, store, shared_issuer),
        AdminService(config, store, shared_issuer) {}

  SessionIssuer& issuer() { return shared_issuer; }
  void set_mailer(MailSender* mailer) { shared_issuer.outbox().set_sender(mailer); }
  // spa_authd_mail_total for /metrics: what was queued and what was
  // dropped, by class and reason.
  std::string mail_metrics() const { return shared_issuer.outbox().metrics(); }
};

}  // namespace spa::authd
