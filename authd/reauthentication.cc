// Recent authentication (RFC 9470 style; CredentialService): actions that
// change how an account is reached need a token whose auth_time is at most
// SessionIssuer::kRecentAuth old. POST /api/v1/auth/reauthenticate renews
// auth_time with the password or a current second factor; POST
// /api/v1/auth/password changes the password behind a recent authentication.
#include "authd/credential_service.h"
#include "authd/passwords.h"
#include "core/session_record.h"

namespace spa::authd {
namespace {

using core::SessionState;

// The caller's account, read in the transaction, while its session is
// still active; else nullopt and `result` says so.
std::optional<UserRecord> live_account(const Store::Txn& t, const Principal& who, int64_t now, Outcome& result) {
  auto u = load_user(t, who.user_id);
  auto session = load_session(t, who.sid);
  if (u && session && session->valid_at(now)) return u;
  result = Outcome::error(Errc::kInvalidToken, "the session has ended");
  return std::nullopt;
}

}  // namespace

Outcome CredentialService::reauthenticate(const Principal& who, const std::string& password, const std::string& code,
                                          bool backup_code, const ClientInfo& client) {
  Outcome result;
  std::optional<UserRecord> user = issuer_.current_account(who, result);
  if (!user) return result;
  bool by_password = !password.empty();
  std::optional<bool> good_password = false;
  if (by_password) good_password = issuer_.password_matches(&*user, password);
  if (!good_password) return server_busy();
  int64_t now = issuer_.now();
  Error e = store_.transact([&](Store::Txn& t) {
    auto u = live_account(t, who, now, result);
    if (!u) return TxnEnd::kAbort;
    std::string email = u->email;
    if (auto locked = issuer_.locked_out(t, email, now)) {
      result = *locked;
      return TxnEnd::kAbort;
    }
    // A password checked against credentials the account no longer has is not good.
    bool good = by_password ? *good_password && u->epoch() == user->epoch()
                            : issuer_.codes().take_second_factor(*u, code, backup_code, now);
    if (!good) {
      result = by_password ? issuer_.record_failure(t, email, &*u, client, now, Errc::kInvalidCredentials,
                                                    "password is wrong")
                           : issuer_.record_failure(t, email, &*u, client, now, Errc::kInvalidCode,
                                                    "the code is wrong, expired or already used");
      return commit_if(save_user(t, *u));  // the count; a spent TOTP step stays spent
    }
    // A new session (new refresh token, auth_time now) replaces this
    // one: whoever else holds this session's refresh token does not
    // become "recently authenticated" with it.
    auto meta = t.get_record<SessionMetaRecord>(Db::kSessionMeta, who.sid).value_or(SessionMetaRecord{});
    // What this re-authentication proved, now: a password says "pwd"; a
    // second factor adds "otp" to the session's first factor. A factor
    // passed once, earlier in the session, is not carried over.
    std::vector<std::string> amr{"pwd"};
    if (!by_password) {
      amr = first_factors(meta.amr.value_or(std::vector<std::string>{}));
      amr.push_back("otp");
    }
    IssuedTokens tokens;
    std::string sid;
    if (!issuer_.end_session(t, who.sid, now) || !issuer_.start_session(t, *u, client, now, tokens, sid, amr))
      return TxnEnd::kAbort;
    result.tokens = tokens;
    result.data = {{"user", u->public_view()}, {"session_id", sid}, {"auth_time", now},
                   {"max_age", SessionIssuer::kRecentAuth}};
    issuer_.audit(t, by_password ? "reauthenticated_password" : "reauthenticated_second_factor", *u, client, now);
    return commit_if(issuer_.clear_failures(t, email) && save_user(t, *u));
  });
  return e.ok() ? result : store_failure(e);
}

Outcome CredentialService::change_password(const Principal& who, const std::string& password,
                                           const ClientInfo& client) {
  if (auto stale = issuer_.require_recent_auth(who)) return *stale;
  Outcome result;
  std::optional<UserRecord> user = issuer_.current_account(who, result);
  if (!user) return result;
  if (auto problem = password_problem(password, user->email, user->username))
    return Outcome::error(Errc::kValidationFailed, *problem);
  auto phc = issuer_.hasher().hash(password);  // slow; outside the write lock
  if (!phc) return server_busy();
  int64_t now = issuer_.now();
  Error e = store_.transact(
      [&](Store::Txn& t) {
        auto u = live_account(t, who, now, result);
        if (!u) return TxnEnd::kAbort;
        // Every session ends, this one too (its refresh token may have been
        // copied); the caller continues in a new one.
        size_t ended = SessionIssuer::session_ids(t, who.user_id).size();
        if (!issuer_.end_all_sessions(t, who.user_id, now, SessionState::kRevoked)) return TxnEnd::kAbort;
        u->password = *phc;
        if (!issuer_.new_credentials(t, *u)) return TxnEnd::kAbort;
        u->updated_at = now;
        auto meta = t.get_record<SessionMetaRecord>(Db::kSessionMeta, who.sid).value_or(SessionMetaRecord{});
        IssuedTokens tokens;
        std::string sid;
        if (!issuer_.start_session(t, *u, client, now, tokens, sid,
                                   meta.amr.value_or(std::vector<std::string>{"pwd"})))
          return TxnEnd::kAbort;
        result.tokens = tokens;
        result.data = {{"user", u->public_view()}, {"session_id", sid}, {"sessions_ended", ended}};
        issuer_.audit(t, "password_changed", *u, client, now);
        return commit_if(issuer_.clear_failures(t, u->email) && save_user(t, *u));
      },
      // Ends sessions: it must work in a full store, like any revocation.
      Store::WriteKind::kRevocation);
  return e.ok() ? result : store_failure(e);
}

}  // namespace spa::authd
