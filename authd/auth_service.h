// Accounts, sessions and tokens: what spa-authd's /api/v1/auth endpoints do,
// without HTTP. Time comes from a clock function so tests control it.
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>
#include <string>

#include <nlohmann/json.hpp>

#include "authd/config.h"
#include "authd/mail_quota.h"
#include "authd/passwords.h"
#include "authd/signing_keys.h"
#include "authd/store.h"
#include "core/jwk.h"
#include "core/session_record.h"

namespace spa::authd {

struct ClientInfo {
  // Bounds of what is kept (session metadata); routes.cc clips at entry.
  static constexpr size_t kMaxIpBytes = 64;
  static constexpr size_t kMaxUserAgentBytes = 256;
  std::string request_id;
  std::string ip;
  std::string user_agent;
};

struct IssuedTokens {
  std::string access_token;
  std::string refresh_token;
  int64_t expires_in = 0;
};

// A response in the making: either data (and maybe tokens), or an error
// with its HTTP status and snake_case code.
struct Outcome {
  int status = 200;
  std::string code;
  std::string message;
  nlohmann::json data = nlohmann::json::object();
  std::optional<IssuedTokens> tokens;
  int64_t retry_after = 0;
  int64_t max_age = 0;       // reauthentication_required: the largest auth age accepted (RFC 9470)
  bool end_session = false;  // tell the browser to drop its cookies

  bool ok() const { return code.empty(); }
  static Outcome error(int status, std::string code, std::string message, int64_t retry_after = 0);
};

// Who is calling, from a verified access token whose session is active.
struct Principal {
  std::string user_id;
  std::string sid;
  int64_t auth_time = 0;  // the token's: when the user last proved who they are
  bool second_factor = false;  // the token's amr lists a second factor
};

class AuthService {
 public:
  using Clock = std::function<int64_t()>;

  // `mfa_key`: 32 bytes from [mfa] secret_key_file; seals TOTP secrets
  // and keys the hashes of backup codes.
  AuthService(const Config& config, Store& store, SigningKeys& keys, const PasswordHasher& hasher, Clock clock,
              std::string mfa_key);

  Outcome signup(const std::string& email, const std::string& username, const std::string& password,
                 const ClientInfo& client);
  Outcome login(const std::string& email, const std::string& password, const ClientInfo& client);
  Outcome refresh(const std::string& refresh_token, const ClientInfo& client);
  Outcome logout(const std::optional<Principal>& who, const std::string& refresh_token, const ClientInfo& client);
  Outcome me(const Principal& who);
  Outcome list_sessions(const Principal& who);
  Outcome revoke_session(const Principal& who, const std::string& sid, const ClientInfo& client);

  // GDPR: everything stored about the caller; erasure after a recent
  // authentication (or with the password in the request).
  Outcome export_data(const Principal& who);
  Outcome delete_account(const Principal& who, const std::string& password, const ClientInfo& client);

  // Actions that change how an account is reached (linking a provider,
  // the second factor, backup codes, the password, deletion) need an
  // authentication at most this old (the token's auth_time): a stolen
  // access token alone does not do them. Otherwise 401
  // reauthentication_required with max_age.
  static constexpr int64_t kRecentAuth = 600;
  // How far ahead of now a session's floor may go (repeated role changes
  // within a second); well inside the module's default 30 s leeway.
  static constexpr int64_t kMaxFloorAhead = 5;
  std::optional<Outcome> require_recent_auth(const Principal& who) const;
  // POST /api/v1/auth/reauthenticate: the password, or a current second
  // factor (TOTP, e-mailed code, backup code); answers a new access token
  // for the same session with a fresh auth_time.
  Outcome reauthenticate(const Principal& who, const std::string& password, const std::string& code,
                         bool backup_code, const ClientInfo& client);
  // POST /api/v1/auth/password: a new password (recent authentication).
  // Every other session ends; this one continues with a new access token
  // and refuses every token issued before.
  Outcome change_password(const Principal& who, const std::string& password, const ClientInfo& client);

  // E-mail verification (authd/email_verification.cc): a single-use link,
  // 24 hours, stored hashed. Sign-up sends the first one.
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

  // Administration (role "admin", read from the store, not the token).
  Outcome admin_list_users(const Principal& who, const std::string& after, size_t limit);
  Outcome admin_update_user(const Principal& who, const std::string& user_id, const nlohmann::json& changes,
                            const ClientInfo& client);

  // Accounts whose address was never confirmed are erased this long after
  // sign-up (with require_verified_email they cannot sign in, and they
  // would squat the address and the username for ever). False with `err`
  // when the store failed; `erased` counts.
  static constexpr int64_t kUnverifiedTtl = 7 * 86400;
  bool sweep_unverified(int64_t now, size_t& erased, std::string& err);

  // For the CLI: give an existing account a role ("user" or "admin").
  Outcome set_role(const std::string& email, const std::string& role);

  // Second factor (authd/mfa.cc). A login of a user with TOTP enabled
  // answers {mfa_required, mfa_token}; mfa_verify completes it.
  Outcome mfa_setup(const Principal& who);
  // The e-mail method, for users without an authenticator app: a 6-digit
  // code by mail, 10 minutes, single use, stored as a keyed hash.
  Outcome mfa_setup_email(const Principal& who, const ClientInfo& client);
  Outcome mfa_send_email_code(const Principal& who, const ClientInfo& client);
  static constexpr int64_t kEmailCodeTtl = 600;
  Outcome mfa_enable(const Principal& who, const std::string& code, const ClientInfo& client);
  Outcome mfa_disable(const Principal& who, const std::string& code, const ClientInfo& client);
  Outcome mfa_new_backup_codes(const Principal& who, const std::string& code, const ClientInfo& client);
  Outcome mfa_status(const Principal& who);
  Outcome mfa_verify(const std::string& mfa_token, const std::string& code, bool backup_code, const ClientInfo& client);

  // Password reset by e-mailed link (authd/password_reset.cc). The request
  // answers the same whether or not the e-mail has an account.
  Outcome password_reset_request(const std::string& email, const ClientInfo& client);
  Outcome password_reset_confirm(const std::string& token, const std::string& password, const ClientInfo& client);
  void set_mailer(class MailSender* mailer) { mailer_ = mailer; }
  // spa_authd_mail_total for /metrics: what was queued and what was
  // dropped, by class and reason.
  std::string mail_metrics() const { return mail_quota_.metrics(); }
  static constexpr int64_t kResetTokenTtl = 30 * 60;

  static constexpr int64_t kMfaTokenTtl = 300;    // five minutes to enter the code
  static constexpr int kMfaTokenAttempts = 5;     // wrong codes before the mfa_token dies
  static constexpr int kBackupCodes = 10;

  // OAuth/OIDC accounts (authd/oauth_accounts.cc): what a provider vouched
  // for, from a verified ID token and the userinfo endpoint.
  struct ExternalIdentity {
    std::string provider;
    std::string subject;
    std::string email;
    bool email_verified = false;
    std::string username_hint;  // preferred_username, when the provider gives one
  };
  // Finds the account by (provider, subject); otherwise links the account
  // with the same e-mail, only when the provider verified that e-mail;
  // otherwise creates one. Then the second-factor gate of a password login:
  // tokens, or data {mfa_required, mfa_token, method}.
  Outcome oauth_sign_in(const ExternalIdentity& id, const ClientInfo& client);
  // Adds the identity to a signed-in user (the flow POST /api/v1/oauth/link starts).
  // `sid`: the session that started the link; if it has ended since (a
  // logout, a password change, a claim of the account), nothing is linked.
  Outcome oauth_link(const std::string& user_id, const std::string& sid, const ExternalIdentity& id,
                     const ClientInfo& client);
  // Refused when it would leave the account with no way to sign in.
  Outcome oauth_unlink(const Principal& who, const std::string& provider, const ClientInfo& client);

  // Verifies an access token (signature, claims, session); nullopt with
  // `why` when it is not acceptable.
  std::optional<Principal> authenticate(std::string_view access_token, std::string& why);

  // Lockout policy: this many failures in a row lock the account for
  // 60 s, doubling with each lockout, at most an hour. Counted per
  // e-mail address in the lockouts database, for known and unknown
  // addresses alike.
  static constexpr int kFailuresBeforeLock = 5;
  static constexpr int64_t kLockoutMemory = 24 * 3600;  // a lockout record outlives its last failure this long

 private:
  struct KeyView {
    core::JwkPtr signer;
    std::shared_ptr<const core::Jwks> verify;
  };
  KeyView keys(int64_t now);
  // `session`: the session's record (its tokens_not_before floors iat)
  // and metadata (amr, auth_time).
  std::string access_token(const nlohmann::json& user, const std::string& sid, const core::SessionRecord& session,
                           const nlohmann::json& meta, int64_t now, KeyView& k);
  // The second-factor gate, shared by every way of logging in (password
  // and OAuth): true when `user` has MFA on, in which case a pending
  // login is stored, `result` says mfa_required, and `code`/`to` hold an
  // e-mail to send once the transaction commits (method e-mail).
  bool needs_second_factor(const nlohmann::json& user) const;
  // `first_factor`: the amr of what got the user this far (["pwd"],
  // ["oauth"]); the session, once the second factor is through, says both.
  bool open_second_factor_gate(Store::Txn& t, const nlohmann::json& user, const nlohmann::json& first_factor,
                               const ClientInfo& client, int64_t now, Outcome& result, std::string& code,
                               std::string& to);
  // A first factor (`amr`) is through: the second-factor gate, or the
  // session (audited as `event`). Saves the user record.
  bool finish_first_factor(Store::Txn& t, nlohmann::json& user, const nlohmann::json& amr, const char* event,
                           const ClientInfo& client, int64_t now, Outcome& result, std::string& code, std::string& to);
  bool start_session(Store::Txn& t, const nlohmann::json& user, const ClientInfo& client, int64_t now,
                     IssuedTokens& out, std::string& sid, const nlohmann::json& amr);
  // Lockouts (authd/lockout.cc), keyed by the e-mail address. Every check
  // of a secret first asks locked_out (423, and the secret is not
  // evaluated), then record_failure or clear_failures.
  std::string lockout_key(const std::string& email) const;
  std::optional<Outcome> locked_out(const Store::Txn& t, const std::string& email, int64_t now) const;
  // A failed password or code: counts toward the lockout and says 401
  // (`code`) or 423 when this failure locks the address. `user` may be
  // null (an unknown address); it is only audited.
  Outcome record_failure(Store::Txn& t, const std::string& email, const nlohmann::json* user,
                         const ClientInfo& client, int64_t now, const std::string& code, const std::string& message);
  bool clear_failures(Store::Txn& t, const std::string& email);
  // A second factor for an account action: a current TOTP code (unspent;
  // the step is recorded), an e-mailed action code, or (`backup`) a backup
  // code, which is spent. Changes `user`; the caller saves it.
  bool take_second_factor(nlohmann::json& user, const std::string& code, bool backup, int64_t now) const;
  // Tokens issued before now stop passing the module; the sessions live on.
  bool floor_all_sessions(Store::Txn& t, const std::string& user_id, int64_t now);
  // Argon2id against the user's hash; an account without a password (made
  // by a provider) costs the time of a wrong one. nullopt: the hasher shed
  // the check (answer server_busy(); nothing was evaluated).
  std::optional<bool> password_matches(const nlohmann::json* user, const std::string& password) const;
  // 503 server_busy with Retry-After: every Argon2 slot busy, the queue full.
  static Outcome server_busy();
  // The password of `user`, checked as a login checks it (Argon2id outside
  // the write lock; refused unevaluated while locked out; a wrong one
  // counts). An ok Outcome when right.
  Outcome check_password(const nlohmann::json& user, const std::string& password, const ClientInfo& client);
  // An account nobody proved the address of, claimed by a provider that
  // verified it: everything the squatter set up to reach it goes.
  bool claim_unverified_account(Store::Txn& t, nlohmann::json& user, const ClientInfo& client, int64_t now);
  // Everything of the account in one transaction (GDPR erasure); the audit
  // trail keeps only an id nothing points to any more.
  bool erase_user(Store::Txn& t, const nlohmann::json& user, const ClientInfo& client, int64_t now);
  std::string new_verify_link(Store::Txn& t, const nlohmann::json& user, int64_t now);
  void mail_verify_link(const std::string& address, const std::string& token) const;
  std::string backup_code_hash(const std::string& user_id, std::string_view code) const;
  std::vector<std::string> new_backup_codes(const std::string& user_id, nlohmann::json& mfa) const;
  std::optional<std::string> totp_secret(const nlohmann::json& user, const char* field) const;
  std::string email_code_hash(const std::string& user_id, std::string_view code) const;
  // A fresh 6-digit code for `user_id`; `hash` is what gets stored.
  std::string new_email_code(const std::string& user_id, std::string& hash) const;
  // A fresh code for account actions, kept in user["mfa"]["email_code"];
  // the caller mails it after the transaction commits.
  std::string new_action_code(nlohmann::json& user, int64_t now) const;
  bool take_action_code(nlohmann::json& user, std::string_view code, int64_t now) const;
  void mail_code(const std::string& address, const std::string& code) const;
  // Every message passes mail_room (the per-recipient and per-account
  // buckets of its class; false with `retry_after`, the drop counted) before
  // anything is stored for it, then deliver (the mailer's queue; a full
  // class is counted as a drop).
  bool mail_room(MailClass cls, const std::string& address, const std::string& account, int64_t now,
                 int64_t& retry_after) const;
  void deliver(MailClass cls, const std::string& to, const std::string& subject, const std::string& body) const;
  // Stores a fresh e-mailed code once `check` allows it (it may reshape
  // the record, or answer with a refusal) and mails it after the commit.
  Outcome mail_action_code(const Principal& who, const ClientInfo& client, const char* event,
                           const std::function<std::optional<Outcome>(nlohmann::json&)>& check);
  // Runs `action` on the user record after a current, unspent TOTP code
  // (an action on an enabled second factor); a wrong code counts toward
  // the lockout. The record is saved with whatever `action` changed.
  Outcome with_current_code(const Principal& who, const std::string& code, const ClientInfo& client,
                            const std::function<void(Store::Txn&, nlohmann::json&, Outcome&)>& action);
  bool end_session(Store::Txn& t, const std::string& sid, int64_t now,
                   core::SessionState state = core::SessionState::kRevoked);
  bool end_all_sessions(Store::Txn& t, const std::string& user_id, int64_t now, core::SessionState state);
  // What proves the account changed (a new password, a claim, a disable,
  // an erasure): the credential epoch moves on, so a check made against
  // the old credentials (a password verified outside the write lock, a
  // login waiting for its second factor) can no longer commit; pending
  // second-factor logins and reset links die. Changes `u`; the caller saves it.
  bool new_credentials(Store::Txn& t, nlohmann::json& u);
  std::optional<Outcome> require_admin(const Principal& who);
  void audit(Store::Txn& t, const std::string& event, const nlohmann::json& user, const ClientInfo& client,
             int64_t now);
  Outcome store_failure(const std::string& err);

  const Config& config_;
  Store& store_;
  SigningKeys& signing_keys_;
  const PasswordHasher& hasher_;
  Clock clock_;
  std::mutex keys_mu_;
  std::shared_ptr<const core::Jwks> verify_set_;
  int64_t keys_checked_at_ = 0;
  uint64_t audit_seq_ = 0;
  std::string mfa_key_;
  class MailSender* mailer_ = nullptr;
  mutable MailQuota mail_quota_;  // synchronised inside
};

// The user as the API shows it (never the password hash or counters).
nlohmann::json public_user(const nlohmann::json& user);

// The account's credential epoch (AuthService::new_credentials): a
// secret checked against a record of one epoch commits only while the
// account is still in it.
int64_t credential_epoch(const nlohmann::json& user);

// The first factors of a session's amr (second factors, "otp" and "mfa",
// left out); ["pwd"] when nothing else is left.
nlohmann::json first_factors(const nlohmann::json& amr);

}  // namespace spa::authd
