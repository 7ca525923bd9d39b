// What every way into an account shares, in one place: the signing keys
// and the tokens they mint, sessions (start, end, floor), the second-factor
// gate a first factor passes through, the recent-authentication rule, the
// credential epoch, the lockout, password checks and the audit trail. The
// services (account_service.h, session_service.h, second_factor_service.h,
// credential_service.h, identity_service.h, privacy_service.h,
// admin_service.h) each do one job over these and share one SessionIssuer,
// never each other: a rule that two of them need lives here, once.
//
// Most calls take the caller's write transaction (Store::Txn) and return
// false when a store call failed (the caller's transaction then fails:
// the failure is in Txn::error(), and transact() answers it); none opens
// a transaction of its own except check_password and current_account.
// Time is the caller's `now`, read once per request from now(). Records
// are the typed ones (authd/records/).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "authd/config.h"
#include "authd/factor_codes.h"
#include "authd/outbox.h"
#include "authd/passwords.h"
#include "authd/records/session_meta.h"
#include "authd/records/user.h"
#include "authd/service_types.h"
#include "authd/signing_keys.h"
#include "authd/store.h"
#include "core/jwk.h"
#include "core/session_record.h"

namespace spa::authd {

class SessionIssuer {
 public:
  using Clock = std::function<int64_t()>;

  // `mfa_key`: 32 bytes from [mfa] secret_key_file; seals TOTP secrets and
  // keys the hashes of codes and of lockout records.
  SessionIssuer(const Config& config, Store& store, SigningKeys& keys, const PasswordHasher& hasher, Clock clock,
                std::string mfa_key);
  SessionIssuer(const SessionIssuer&) = delete;
  SessionIssuer& operator=(const SessionIssuer&) = delete;

  // The clock; a service reads it where the request's time is taken (the
  // tests land changes "meanwhile", at that very read).
  int64_t now() const { return clock_(); }
  const PasswordHasher& hasher() const { return hasher_; }
  const FactorCodes& codes() const { return codes_; }
  Outbox& outbox() { return outbox_; }
  const Outbox& outbox() const { return outbox_; }

  // --- keys and tokens
  struct KeyView {
    core::JwkPtr signer;
    std::shared_ptr<const core::Jwks> verify;
  };
  // The signing key and the verification set at `now`; `spa-authd keys
  // rotate` runs as another process, so its schedule is looked at (at most
  // once a second) here.
  KeyView keys(int64_t now);
  // An access token for `sid`. `session`: the session's record (its
  // tokens_not_before floors iat) and metadata (amr, auth_time).
  std::string access_token(const UserRecord& user, const std::string& sid, const core::SessionRecord& session,
                           const SessionMetaRecord& meta, int64_t now, const KeyView& k) const;

  // --- sessions
  // A new session of `user` (a refresh family, its first pair in `out`),
  // authenticated by `amr`, with auth_time now.
  bool start_session(Store::Txn& t, const UserRecord& user, const ClientInfo& client, int64_t now,
                     IssuedTokens& out, std::string& sid, const std::vector<std::string>& amr);
  bool end_session(Store::Txn& t, const std::string& sid, int64_t now,
                   core::SessionState state = core::SessionState::kRevoked);
  bool end_all_sessions(Store::Txn& t, const std::string& user_id, int64_t now, core::SessionState state);
  // The ids of every session of `user_id` (user_sessions), ended ones too.
  static std::vector<std::string> session_ids(const Store::Txn& t, const std::string& user_id);
  // Tokens issued before now stop passing the module; the sessions live on.
  bool floor_all_sessions(Store::Txn& t, const std::string& user_id, int64_t now);
  // How far ahead of now a session's floor may go (repeated role changes
  // within a second); well inside the module's default 30 s leeway.
  static constexpr int64_t kMaxFloorAhead = 5;

  // --- the second-factor gate, shared by every way of logging in
  // A first factor (`amr`: ["pwd"], ["oauth"]) is through. With MFA on,
  // a pending login is stored and `result` says {mfa_required, mfa_token,
  // method}, with `code`/`to` an e-mail to send (mail_code) once the
  // transaction commits; else the lockout counters reset and the session
  // starts (audited as `event`). Saves the user record.
  bool finish_first_factor(Store::Txn& t, UserRecord& user, const std::vector<std::string>& amr, const char* event,
                           const ClientInfo& client, int64_t now, Outcome& result, std::string& code,
                           std::string& to);
  static constexpr int64_t kMfaTokenTtl = 300;  // five minutes to enter the code
  // A sign-in or action code to `address` (after the commit that stored it).
  void mail_code(const std::string& address, const std::string& code);

  // The caller's account as it is now (a read, outside any write); nullopt
  // with `result` when it is gone (401 invalid_token) or the store failed.
  std::optional<UserRecord> current_account(const Principal& who, Outcome& result) const;

  // --- recent authentication
  // Actions that change how an account is reached (linking a provider,
  // the second factor, backup codes, the password, deletion) need an
  // authentication at most this old (the token's auth_time): a stolen
  // access token alone does not do them. Otherwise 401
  // reauthentication_required with max_age.
  static constexpr int64_t kRecentAuth = 600;
  std::optional<Outcome> require_recent_auth(const Principal& who) const;

  // --- credentials
  // What proves the account changed (a new password, a claim, a disable,
  // an erasure): the credential epoch moves on, so a check made against
  // the old credentials (a password verified outside the write lock, a
  // login waiting for its second factor) can no longer commit; pending
  // second-factor logins and reset links die. Changes `u`; the caller saves it.
  bool new_credentials(Store::Txn& t, UserRecord& u);
  // An account nobody proved the address of, claimed by whoever just did
  // (a provider that verified it, a reset link, a verification link):
  // everything the squatter set up to reach it goes. Changes `u`.
  bool claim_unverified_account(Store::Txn& t, UserRecord& u, const ClientInfo& client, int64_t now);
  // Argon2id against the user's hash; an account without a password (made
  // by a provider) or none at all costs the time of a wrong one. nullopt:
  // the hasher shed the check (answer server_busy(); nothing was evaluated).
  std::optional<bool> password_matches(const UserRecord* user, const std::string& password) const;
  // The password of `user`, checked as a login checks it (Argon2id outside
  // the write lock; refused unevaluated while locked out; a wrong one
  // counts). An ok Outcome when right.
  Outcome check_password(const UserRecord& user, const std::string& password, const ClientInfo& client);

  // --- lockout (authd/lockout.cc), keyed by the e-mail address
  // This many failures in a row lock the address for 60 s, doubling with
  // each lockout, at most an hour; counted for known and unknown
  // addresses alike. Every check of a secret first asks locked_out (423,
  // and the secret is not evaluated), then record_failure or clear_failures.
  static constexpr int kFailuresBeforeLock = 5;
  static constexpr int64_t kLockoutMemory = 24 * 3600;  // a lockout record outlives its last failure this long
  std::string lockout_key(const std::string& email) const;
  std::optional<Outcome> locked_out(const Store::Txn& t, const std::string& email, int64_t now) const;
  // A failed password or code: counts toward the lockout and says 401
  // (`code`: kInvalidCredentials or kInvalidCode) or 423 when this failure
  // locks the address. `user` may be null (an unknown address); it is only audited.
  Outcome record_failure(Store::Txn& t, const std::string& email, const UserRecord* user,
                         const ClientInfo& client, int64_t now, Errc code, const std::string& message);
  bool clear_failures(Store::Txn& t, const std::string& email);

  // --- audit
  // Events name the user only by an opaque id that erasure removes from
  // the user record, so after deletion the trail is anonymous.
  void audit(Store::Txn& t, const std::string& event, const UserRecord& user, const ClientInfo& client,
             int64_t now);

 private:
  bool open_second_factor_gate(Store::Txn& t, const UserRecord& user, const std::vector<std::string>& first_factor,
                               const ClientInfo& client, int64_t now, Outcome& result, std::string& code,
                               std::string& to);

  const Config& config_;
  Store& store_;
  SigningKeys& signing_keys_;
  const PasswordHasher& hasher_;
  Clock clock_;
  const std::string mfa_key_;
  FactorCodes codes_{mfa_key_};  // after mfa_key_: it keeps a reference
  Outbox outbox_;
  std::mutex keys_mu_;
  std::shared_ptr<const core::Jwks> verify_set_;
  int64_t keys_checked_at_ = 0;
  std::string keys_error_;  // the reload failure last logged, "" when none
  uint64_t audit_seq_ = 0;  // only in write transactions, which run one at a time
};

// What each service holds: the configuration, the store, and the one
// SessionIssuer all of them share (never another service).
class ServiceBase {
 public:
  ServiceBase(const Config& config, Store& store, SessionIssuer& issuer)
      : config_(config), store_(store), issuer_(issuer) {}

 protected:
  const Config& config_;
  Store& store_;
  SessionIssuer& issuer_;
};

}  // namespace spa::authd
