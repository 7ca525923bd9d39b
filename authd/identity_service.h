// Accounts behind OAuth/OIDC logins (authd/oauth_accounts.cc): find, link
// by verified e-mail, or create; link to and unlink from a signed-in user.
// The protocol itself (state, PKCE, code exchange, ID token) is OAuthLogin's
// (authd/oauth.cc), which hands this what the provider vouched for.
#pragma once

#include <optional>
#include <string>

#include "authd/service_types.h"
#include "authd/session_issuer.h"

namespace spa::authd {

// What a provider vouched for, from a verified ID token and the userinfo endpoint.
struct ExternalIdentity {
  std::string provider;
  std::string subject;
  std::string email;
  bool email_verified = false;
  std::string username_hint;  // preferred_username, when the provider gives one
};

class IdentityService : public ServiceBase {
 public:
  using ServiceBase::ServiceBase;

  // Finds the account by (provider, subject); otherwise links the account
  // with the same e-mail, only when the provider verified that e-mail;
  // otherwise creates one. Then the second-factor gate of a password login:
  // tokens, or data {mfa_required, mfa_token, method}.
  Outcome oauth_sign_in(const ExternalIdentity& id, const ClientInfo& client);
  // Whether `who` may start linking a provider (POST /api/v1/oauth/link):
  // another way into the account, so only right after proving who one is.
  std::optional<Outcome> may_start_link(const Principal& who) const { return issuer_.require_recent_auth(who); }
  // Adds the identity to a signed-in user (the flow POST /api/v1/oauth/link starts).
  // `sid`: the session that started the link; if it has ended since (a
  // logout, a password change, a claim of the account), nothing is linked.
  Outcome oauth_link(const std::string& user_id, const std::string& sid, const ExternalIdentity& id,
                     const ClientInfo& client);
  // Refused when it would leave the account with no way to sign in.
  Outcome oauth_unlink(const Principal& who, const std::string& provider, const ClientInfo& client);
};

}  // namespace spa::authd
