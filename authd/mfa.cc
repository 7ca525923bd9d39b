// Second factor (SecondFactorService): TOTP (RFC 6238 via liboath) or a
// code by e-mail, with backup codes, and the end of a login the gate left
// waiting for it.
#include "authd/crypto.h"
#include "authd/metrics.h"
#include "authd/qr_svg.h"
#include "authd/records/mfa_pending.h"
#include "authd/second_factor_service.h"
#include "authd/totp.h"

namespace spa::authd {
namespace {

Outcome already_enabled() {
  return Outcome::error(Errc::kMfaAlreadyEnabled, "two-factor authentication is already on");
}

}  // namespace

Outcome SecondFactorService::mfa_setup(const Principal& who) {
  if (auto stale = issuer_.require_recent_auth(who)) return *stale;
  int64_t now = issuer_.now();
  std::string secret = totp::new_secret();
  Outcome result;
  Error e = store_.transact([&](Store::Txn& t) {
    auto u = load_user(t, who.user_id);
    if (!u) {
      result = Outcome::error(Errc::kInvalidToken, "account no longer exists");
      return TxnEnd::kAbort;
    }
    if (u->mfa_enabled()) {
      result = already_enabled();
      return TxnEnd::kAbort;
    }
    // Pending until /mfa/enable proves the authenticator has it.
    u->mfa.emplace();
    u->mfa->pending = issuer_.codes().seal_totp(who.user_id, secret);
    u->updated_at = now;
    std::string uri = totp::otpauth_uri(config_.mfa_issuer_name, u->email, secret);
    result.data = {{"secret", totp::base32(secret)}, {"otpauth_uri", uri}, {"qr_svg", qr_svg(uri)}};
    return commit_if(save_user(t, *u));
  });
  return e.ok() ? result : store_failure(e);
}

Outcome SecondFactorService::mail_action_code(const Principal& who, const ClientInfo& client, const char* event,
                                              const std::function<std::optional<Outcome>(UserRecord&)>& check) {
  int64_t now = issuer_.now();
  Outcome result;
  std::string address, code;
  Error e = store_.transact([&](Store::Txn& t) {
    auto u = load_user(t, who.user_id);
    if (!u) return TxnEnd::kAbort;
    if (auto refused = check(*u)) {
      result = *refused;
      return TxnEnd::kAbort;
    }
    // Codes go to proven addresses only: not to one a squatter typed in.
    if (!u->verified()) {
      result = Outcome::error(Errc::kEmailNotVerified, "confirm your e-mail address before codes can be mailed to it");
      return TxnEnd::kAbort;
    }
    int64_t wait = 0;
    if (!issuer_.outbox().room(MailClass::kCode, u->email, who.user_id, wait)) {
      result = Outcome::error(Errc::kMailRateLimited, "too many codes were mailed to this address; try again later",
                              wait);
      return TxnEnd::kAbort;
    }
    code = issuer_.codes().new_action_code(*u, now);
    address = u->email;
    issuer_.audit(t, event, *u, client, now);
    result.data = {{"method", "email"}, {"sent", true}, {"expires_in", FactorCodes::kEmailCodeTtl}};
    return commit_if(save_user(t, *u));
  });
  if (!e.ok()) return store_failure(e);
  // After the commit: no mail for a code that was never stored.
  if (!code.empty() && result.ok()) issuer_.mail_code(address, code);
  return result;
}

Outcome SecondFactorService::mfa_setup_email(const Principal& who, const ClientInfo& client) {
  if (auto stale = issuer_.require_recent_auth(who)) return *stale;
  return mail_action_code(who, client, "mfa_email_setup", [](UserRecord& u) -> std::optional<Outcome> {
    if (u.mfa_enabled()) return already_enabled();
    u.mfa.emplace();  // pending until /mfa/enable
    u.mfa->method = "email";
    return std::nullopt;
  });
}

Outcome SecondFactorService::mfa_send_email_code(const Principal& who, const ClientInfo& client) {
  return mail_action_code(who, client, "mfa_email_code_sent", [](UserRecord& u) -> std::optional<Outcome> {
    if (!u.mfa || !u.mfa->email_method()) return Outcome::error(Errc::kMfaNotEnabled, "the e-mail method is not set up");
    return std::nullopt;
  });
}

Outcome SecondFactorService::mfa_enable(const Principal& who, const std::string& code, const ClientInfo& client) {
  if (auto stale = issuer_.require_recent_auth(who)) return *stale;
  int64_t now = issuer_.now();
  const FactorCodes& codes = issuer_.codes();
  Outcome result;
  Error e = store_.transact([&](Store::Txn& t) {
    auto u = load_user(t, who.user_id);
    if (!u) return TxnEnd::kAbort;
    std::string email = u->email;
    if (auto locked = issuer_.locked_out(t, email, now)) {
      result = *locked;
      return TxnEnd::kAbort;
    }
    if (u->mfa_enabled()) {
      result = already_enabled();
      return TxnEnd::kAbort;
    }
    UserRecord::Mfa mfa;  // a new one: what the setup left (the pending secret, a code) goes
    mfa.enabled = true;
    mfa.enabled_at = now;
    if (u->mfa && u->mfa->email_method()) {
      if (!codes.take_action_code(*u, code, now)) {
        result = issuer_.record_failure(t, email, &*u, client, now, Errc::kInvalidCode, "the code is wrong or expired");
        return commit_if(save_user(t, *u));  // the count
      }
      mfa.method = "email";
      auto backup = codes.new_backup_codes(who.user_id, mfa);
      u->mfa = mfa;
      u->updated_at = now;
      issuer_.audit(t, "mfa_enabled", *u, client, now);
      result.data = {{"enabled", true}, {"method", "email"}, {"backup_codes", backup}};
      return commit_if(save_user(t, *u));
    }
    auto secret = u->mfa ? codes.open_totp(u->id, u->mfa->pending) : std::nullopt;
    if (!secret) {
      result = Outcome::error(Errc::kMfaNotSetUp, "call /api/v1/mfa/setup first");
      return TxnEnd::kAbort;
    }
    auto step = totp::verify(*secret, code, now);
    if (!step) {
      result = issuer_.record_failure(t, email, &*u, client, now, Errc::kInvalidCode, "the code is wrong or expired");
      return TxnEnd::kCommit;  // the count
    }
    mfa.secret = u->mfa->pending;
    mfa.last_step = *step;
    auto backup = codes.new_backup_codes(who.user_id, mfa);
    u->mfa = mfa;
    u->updated_at = now;
    issuer_.audit(t, "mfa_enabled", *u, client, now);
    result.data = {{"enabled", true}, {"backup_codes", backup}};
    return commit_if(save_user(t, *u));
  });
  return e.ok() ? result : store_failure(e);
}

Outcome SecondFactorService::with_current_code(const Principal& who, const std::string& code,
                                               const ClientInfo& client,
                                               const std::function<bool(Store::Txn&, UserRecord&, Outcome&)>& action) {
  if (auto stale = issuer_.require_recent_auth(who)) return *stale;
  int64_t now = issuer_.now();
  Outcome result;
  Error e = store_.transact(
      [&](Store::Txn& t) {
        auto u = load_user(t, who.user_id);
        if (!u) return TxnEnd::kAbort;
        if (!u->mfa_enabled()) {
          result = Outcome::error(Errc::kMfaNotEnabled, "two-factor authentication is off");
          return TxnEnd::kAbort;
        }
        std::string email = u->email;
        if (auto locked = issuer_.locked_out(t, email, now)) {  // the code is not even looked at
          result = *locked;
          return TxnEnd::kAbort;
        }
        if (!issuer_.codes().take_second_factor(*u, code, false, now)) {
          result = issuer_.record_failure(t, email, &*u, client, now, Errc::kInvalidCode,
                                          "the code is wrong, expired or already used");
        } else {
          u->updated_at = now;
          if (!action(t, *u, result)) {
            if (t.error().ok()) result = store_failure({Errc::kStoreFailed, "the action did not complete"});
            return TxnEnd::kAbort;
          }
        }
        return commit_if(save_user(t, *u));
      },
      Store::WriteKind::kRevocation);  // turning a factor off or replacing codes must work in a full store
  return e.ok() ? result : store_failure(e);
}

Outcome SecondFactorService::mfa_disable(const Principal& who, const std::string& code, const ClientInfo& client) {
  return with_current_code(who, code, client, [&](Store::Txn& t, UserRecord& u, Outcome& result) {
    u.mfa.reset();
    int64_t now = issuer_.now();
    // No session of the user says any more that it passed a second factor,
    // and tokens minted saying so stop passing (a refresh mints one without).
    for (const auto& sid : SessionIssuer::session_ids(t, who.user_id)) {
      auto meta = t.get_record<SessionMetaRecord>(Db::kSessionMeta, sid);
      if (!meta || !meta->amr) continue;
      meta->amr = first_factors(*meta->amr);
      if (!t.put_record(Db::kSessionMeta, sid, *meta)) return false;
    }
    if (!issuer_.floor_all_sessions(t, who.user_id, now)) return false;
    // The caller goes on in a new session (after the floor, so its tokens
    // pass) that says what is true now.
    auto meta = t.get_record<SessionMetaRecord>(Db::kSessionMeta, who.sid);
    std::vector<std::string> amr = first_factors(meta ? meta->amr.value_or(std::vector<std::string>{})
                                                      : std::vector<std::string>{});
    IssuedTokens tokens;
    std::string sid;
    if (!issuer_.end_session(t, who.sid, now) || !issuer_.start_session(t, u, client, now, tokens, sid, amr))
      return false;
    issuer_.audit(t, "mfa_disabled", u, client, now);
    result.tokens = tokens;
    result.data = {{"enabled", false}, {"session_id", sid}};
    return true;
  });
}

Outcome SecondFactorService::mfa_new_backup_codes(const Principal& who, const std::string& code,
                                                  const ClientInfo& client) {
  return with_current_code(who, code, client, [&](Store::Txn& t, UserRecord& u, Outcome& result) {
    auto codes = issuer_.codes().new_backup_codes(who.user_id, *u.mfa);
    issuer_.audit(t, "mfa_backup_codes_replaced", u, client, issuer_.now());
    result.data = {{"backup_codes", codes}};
    return true;
  });
}

Outcome SecondFactorService::mfa_status(const Principal& who) {
  Outcome o;
  auto u = issuer_.current_account(who, o);
  if (!u) return o;
  bool on = u->mfa_enabled();
  o.data = {{"enabled", on},
            {"method", on ? u->mfa->method.value_or("totp") : ""},
            {"backup_codes_remaining", on ? u->mfa->backup.value_or(std::vector<std::string>{}).size() : 0}};
  return o;
}

Outcome SecondFactorService::mfa_verify(const std::string& mfa_token, const std::string& code, bool backup_code,
                                        const ClientInfo& client) {
  int64_t now = issuer_.now();
  std::string key = sha256(mfa_token);
  Outcome result;
  const char* method = backup_code ? "backup" : "unknown";  // known once the mfa_token is
  Error e = store_.transact([&](Store::Txn& t) {
    auto text = t.get(Db::kMfaPending, key);
    auto pending = text ? MfaPendingRecord::from_json(*text) : std::nullopt;
    if (!pending || pending->expires_at <= now) {
      result = Outcome::error(Errc::kInvalidToken, "mfa_token is not valid or has expired");
      return text ? commit_if(t.del(Db::kMfaPending, key)) : TxnEnd::kAbort;  // a stored one is spent
    }
    const std::string id = pending->user;
    auto u = load_user(t, id);
    // The login checked credentials the account no longer has (a reset,
    // a password change, a disable since): it ends here.
    if (!u || u->disabled || !u->mfa_enabled() || pending->epoch.value_or(0) != u->epoch()) {
      result = Outcome::error(Errc::kInvalidToken, "mfa_token is not valid or has expired");
      return commit_if(t.del(Db::kMfaPending, key));
    }
    if (!backup_code) method = u->mfa->email_method() ? "email" : "totp";
    std::string email = u->email;
    if (auto locked = issuer_.locked_out(t, email, now)) {  // the code is not even looked at
      result = *locked;
      return TxnEnd::kAbort;
    }
    // The e-mail method's code is the one mailed for this login (the
    // mfa_token dies with its use); backup and TOTP codes as for any action.
    bool good = !backup_code && u->mfa->email_method()
                    ? equal_secret(pending->email_code.value_or(""), issuer_.codes().email_code_hash(id, code))
                    : issuer_.codes().take_second_factor(*u, code, backup_code, now);
    if (!good) {
      result = issuer_.record_failure(t, email, &*u, client, now, Errc::kInvalidCode,
                                      "the code is wrong, expired or already used");
      pending->attempts += 1;
      bool spent = pending->attempts >= kMfaTokenAttempts;
      return commit_if(save_user(t, *u) &&
                       (spent ? t.del(Db::kMfaPending, key) : t.put_record(Db::kMfaPending, key, *pending)));
    }
    if (!issuer_.clear_failures(t, email)) return TxnEnd::kAbort;
    IssuedTokens tokens;
    std::string sid;
    std::vector<std::string> amr = pending->amr.value_or(std::vector<std::string>{"pwd"});
    amr.push_back("otp");
    if (!t.del(Db::kMfaPending, key) || !issuer_.start_session(t, *u, client, now, tokens, sid, amr))
      return TxnEnd::kAbort;
    issuer_.audit(t, backup_code ? "login_backup_code" : "login_mfa", *u, client, now);
    result.tokens = tokens;
    result.data = {{"user", u->public_view()}, {"session_id", sid}};
    if (backup_code) result.data["backup_codes_remaining"] = u->mfa->backup.value_or(std::vector<std::string>{}).size();
    return commit_if(save_user(t, *u));
  });
  if (!e.ok()) result = store_failure(e);
  metrics::count(metrics::Family::kSecondFactor, {method, metrics::outcome(result)});
  return result;
}

}  // namespace spa::authd
