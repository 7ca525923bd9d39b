// Second factor (SecondFactorService): TOTP (RFC 6238 via liboath) or a
// code by e-mail, with backup codes, and the end of a login the gate left
// waiting for it.
#include "authd/crypto.h"
#include "authd/qr_svg.h"
#include "authd/second_factor_service.h"
#include "authd/totp.h"
#include "core/json_strict.h"

namespace spa::authd {
namespace {

using json = nlohmann::json;

std::optional<json> load_user(const Store::Txn& t, const std::string& id) { return load_json(t, Db::kUsers, id); }

bool enabled(const json& u) { return u.contains("mfa") && u["mfa"].value("enabled", false); }
bool email_method(const json& u) { return u.contains("mfa") && u["mfa"].value("method", "totp") == "email"; }

Outcome already_enabled() {
  return Outcome::error(Errc::kMfaAlreadyEnabled, "two-factor authentication is already on");
}

}  // namespace

Outcome SecondFactorService::mfa_setup(const Principal& who) {
  if (auto stale = issuer_.require_recent_auth(who)) return *stale;
  int64_t now = issuer_.now();
  std::string secret = totp::new_secret();
  Outcome result;
  std::string err;
  bool ok = store_.write(
      [&](Store::Txn& t) {
        auto u = load_user(t, who.user_id);
        if (!u) {
          result = Outcome::error(Errc::kInvalidToken, "account no longer exists");
          return false;
        }
        if (enabled(*u)) {
          result = already_enabled();
          return false;
        }
        // Pending until /mfa/enable proves the authenticator has it.
        (*u)["mfa"] = {{"enabled", false}, {"pending", issuer_.codes().seal_totp(who.user_id, secret)}};
        (*u)["updated_at"] = now;
        std::string uri = totp::otpauth_uri(config_.mfa_issuer_name, u->value("email", ""), secret);
        result.data = {{"secret", totp::base32(secret)}, {"otpauth_uri", uri}, {"qr_svg", qr_svg(uri)}};
        return t.put(Db::kUsers, who.user_id, u->dump());
      },
      err);
  if (!ok && !err.empty()) return store_failure(err);
  return result;
}

Outcome SecondFactorService::mail_action_code(const Principal& who, const ClientInfo& client, const char* event,
                                              const std::function<std::optional<Outcome>(json&)>& check) {
  int64_t now = issuer_.now();
  Outcome result;
  std::string err, address, code;
  bool ok = store_.write(
      [&](Store::Txn& t) {
        auto u = load_user(t, who.user_id);
        if (!u) return false;
        if (auto refused = check(*u)) {
          result = *refused;
          return false;
        }
        // Codes go to proven addresses only: not to one a squatter typed in.
        if (!u->value("email_verified", false)) {
          result = Outcome::error(Errc::kEmailNotVerified, "confirm your e-mail address before codes can be mailed to it");
          return false;
        }
        int64_t wait = 0;
        if (!issuer_.outbox().room(MailClass::kCode, u->value("email", ""), who.user_id, now, wait)) {
          result = Outcome::error(Errc::kMailRateLimited,
                                  "too many codes were mailed to this address; try again later", wait);
          return false;
        }
        code = issuer_.codes().new_action_code(*u, now);
        address = u->value("email", "");
        issuer_.audit(t, event, *u, client, now);
        result.data = {{"method", "email"}, {"sent", true}, {"expires_in", FactorCodes::kEmailCodeTtl}};
        return t.put(Db::kUsers, who.user_id, u->dump());
      },
      err);
  if (!ok && !err.empty()) return store_failure(err);
  if (ok) issuer_.mail_code(address, code);  // after the commit: no mail for a code that was never stored
  return result;
}

Outcome SecondFactorService::mfa_setup_email(const Principal& who, const ClientInfo& client) {
  if (auto stale = issuer_.require_recent_auth(who)) return *stale;
  return mail_action_code(who, client, "mfa_email_setup", [](json& u) -> std::optional<Outcome> {
    if (enabled(u)) return already_enabled();
    u["mfa"] = {{"enabled", false}, {"method", "email"}};  // pending until /mfa/enable
    return std::nullopt;
  });
}

Outcome SecondFactorService::mfa_send_email_code(const Principal& who, const ClientInfo& client) {
  return mail_action_code(who, client, "mfa_email_code_sent", [](json& u) -> std::optional<Outcome> {
    if (!email_method(u)) return Outcome::error(Errc::kMfaNotEnabled, "the e-mail method is not set up");
    return std::nullopt;
  });
}

Outcome SecondFactorService::mfa_enable(const Principal& who, const std::string& code, const ClientInfo& client) {
  if (auto stale = issuer_.require_recent_auth(who)) return *stale;
  int64_t now = issuer_.now();
  const FactorCodes& codes = issuer_.codes();
  Outcome result;
  std::string err;
  bool ok = store_.write(
      [&](Store::Txn& t) {
        auto u = load_user(t, who.user_id);
        if (!u) return false;
        std::string email = u->value("email", "");
        if (auto locked = issuer_.locked_out(t, email, now)) {
          result = *locked;
          return false;
        }
        if (enabled(*u)) {
          result = already_enabled();
          return false;
        }
        if (email_method(*u)) {
          if (!codes.take_action_code(*u, code, now)) {
            result = issuer_.record_failure(t, email, &*u, client, now, Errc::kInvalidCode,
                                            "the code is wrong or expired");
            return t.put(Db::kUsers, who.user_id, u->dump());
          }
          json mfa = {{"enabled", true}, {"method", "email"}, {"enabled_at", now}};
          auto backup = codes.new_backup_codes(who.user_id, mfa);
          (*u)["mfa"] = mfa;
          (*u)["updated_at"] = now;
          issuer_.audit(t, "mfa_enabled", *u, client, now);
          result.data = {{"enabled", true}, {"method", "email"}, {"backup_codes", backup}};
          return t.put(Db::kUsers, who.user_id, u->dump());
        }
        auto secret = codes.totp_secret(*u, "pending");
        if (!secret) {
          result = Outcome::error(Errc::kMfaNotSetUp, "call /api/v1/mfa/setup first");
          return false;
        }
        auto step = totp::verify(*secret, code, now);
        if (!step) {
          result = issuer_.record_failure(t, email, &*u, client, now, Errc::kInvalidCode, "the code is wrong or expired");
          return true;
        }
        json mfa = {{"enabled", true},
                    {"secret", (*u)["mfa"]["pending"]},
                    {"last_step", *step},
                    {"enabled_at", now}};
        auto backup = codes.new_backup_codes(who.user_id, mfa);
        (*u)["mfa"] = mfa;
        (*u)["updated_at"] = now;
        issuer_.audit(t, "mfa_enabled", *u, client, now);
        result.data = {{"enabled", true}, {"backup_codes", backup}};
        return t.put(Db::kUsers, who.user_id, u->dump());
      },
      err);
  if (!ok && !err.empty()) return store_failure(err);
  return result;
}

Outcome SecondFactorService::with_current_code(
    const Principal& who, const std::string& code, const ClientInfo& client,
    const std::function<void(Store::Txn&, json&, Outcome&)>& action) {
  if (auto stale = issuer_.require_recent_auth(who)) return *stale;
  int64_t now = issuer_.now();
  Outcome result;
  std::string err;
  bool ok = store_.write(
      [&](Store::Txn& t) {
        auto u = load_user(t, who.user_id);
        if (!u) return false;
        if (!enabled(*u)) {
          result = Outcome::error(Errc::kMfaNotEnabled, "two-factor authentication is off");
          return false;
        }
        std::string email = u->value("email", "");
        if (auto locked = issuer_.locked_out(t, email, now)) {  // the code is not even looked at
          result = *locked;
          return false;
        }
        if (!issuer_.codes().take_second_factor(*u, code, false, now)) {
          result = issuer_.record_failure(t, email, &*u, client, now, Errc::kInvalidCode,
                                          "the code is wrong, expired or already used");
        } else {
          (*u)["updated_at"] = now;
          action(t, *u, result);
        }
        return t.put(Db::kUsers, who.user_id, u->dump());
      },
      err, Store::WriteKind::kRevocation);  // turning a factor off or replacing codes must work in a full store
  if (!ok && !err.empty()) return store_failure(err);
  return result;
}

Outcome SecondFactorService::mfa_disable(const Principal& who, const std::string& code, const ClientInfo& client) {
  return with_current_code(who, code, client, [&](Store::Txn& t, json& u, Outcome& result) {
    u.erase("mfa");
    int64_t now = issuer_.now();
    // No session of the user says any more that it passed a second factor,
    // and tokens minted saying so stop passing (a refresh mints one without).
    for (const auto& sid : SessionIssuer::session_ids(t, who.user_id)) {
      auto meta = load_json(t, Db::kSessionMeta, sid);
      if (!meta || !meta->contains("amr")) continue;
      (*meta)["amr"] = first_factors((*meta)["amr"]);
      if (!t.put(Db::kSessionMeta, sid, meta->dump())) return void(result = store_failure(t.error()));
    }
    if (!issuer_.floor_all_sessions(t, who.user_id, now)) return void(result = store_failure(t.error()));
    // The caller goes on in a new session (after the floor, so its tokens
    // pass) that says what is true now.
    json amr = first_factors(load_json(t, Db::kSessionMeta, who.sid).value_or(json::object()).value("amr", json::array()));
    IssuedTokens tokens;
    std::string sid;
    if (!issuer_.end_session(t, who.sid, now) || !issuer_.start_session(t, u, client, now, tokens, sid, amr)) {
      result = store_failure(t.error().empty() ? "cannot start the session" : t.error());
      return;
    }
    issuer_.audit(t, "mfa_disabled", u, client, now);
    result.tokens = tokens;
    result.data = {{"enabled", false}, {"session_id", sid}};
  });
}

Outcome SecondFactorService::mfa_new_backup_codes(const Principal& who, const std::string& code,
                                                  const ClientInfo& client) {
  return with_current_code(who, code, client, [&](Store::Txn& t, json& u, Outcome& result) {
    auto codes = issuer_.codes().new_backup_codes(who.user_id, u["mfa"]);
    issuer_.audit(t, "mfa_backup_codes_replaced", u, client, issuer_.now());
    result.data = {{"backup_codes", codes}};
  });
}

Outcome SecondFactorService::mfa_status(const Principal& who) {
  Outcome o;
  auto u = issuer_.current_account(who, o);
  if (!u) return o;
  o.data = {{"enabled", enabled(*u)},
            {"method", enabled(*u) ? (*u)["mfa"].value("method", "totp") : ""},
            {"backup_codes_remaining", enabled(*u) ? (*u)["mfa"].value("backup", json::array()).size() : 0}};
  return o;
}

Outcome SecondFactorService::mfa_verify(const std::string& mfa_token, const std::string& code, bool backup_code,
                                        const ClientInfo& client) {
  int64_t now = issuer_.now();
  std::string key = sha256(mfa_token);
  Outcome result;
  std::string err;
  bool ok = store_.write(
      [&](Store::Txn& t) {
        auto text = t.get(Db::kMfaPending, key);
        json pending;
        std::string perr;
        if (!text || !core::parse_json_strict(*text, pending, perr) || !pending.is_object() ||
            pending.value("expires_at", int64_t{0}) <= now) {
          result = Outcome::error(Errc::kInvalidToken, "mfa_token is not valid or has expired");
          return text ? t.del(Db::kMfaPending, key) : false;
        }
        std::string id = pending.value("user", "");
        auto u = load_user(t, id);
        // The login checked credentials the account no longer has (a reset,
        // a password change, a disable since): it ends here.
        if (!u || u->value("disabled", false) || !enabled(*u) ||
            pending.value("epoch", int64_t{0}) != credential_epoch(*u)) {
          result = Outcome::error(Errc::kInvalidToken, "mfa_token is not valid or has expired");
          return t.del(Db::kMfaPending, key);
        }
        std::string email = u->value("email", "");
        if (auto locked = issuer_.locked_out(t, email, now)) {  // the code is not even looked at
          result = *locked;
          return false;
        }
        // The e-mail method's code is the one mailed for this login (the
        // mfa_token dies with its use); backup and TOTP codes as for any action.
        bool good = !backup_code && email_method(*u)
                        ? equal_secret(pending.value("email_code", ""), issuer_.codes().email_code_hash(id, code))
                        : issuer_.codes().take_second_factor(*u, code, backup_code, now);
        json& mfa = (*u)["mfa"];
        if (!good) {
          result = issuer_.record_failure(t, email, &*u, client, now, Errc::kInvalidCode,
                                          "the code is wrong, expired or already used");
          pending["attempts"] = pending.value("attempts", 0) + 1;
          bool spent = pending["attempts"].get<int>() >= kMfaTokenAttempts;
          return t.put(Db::kUsers, id, u->dump()) &&
                 (spent ? t.del(Db::kMfaPending, key) : t.put(Db::kMfaPending, key, pending.dump()));
        }
        if (!issuer_.clear_failures(t, email)) return false;
        IssuedTokens tokens;
        std::string sid;
        json amr = pending.value("amr", json::array({"pwd"}));
        if (!amr.is_array()) amr = json::array({"pwd"});
        amr.push_back("otp");
        if (!t.del(Db::kMfaPending, key) || !issuer_.start_session(t, *u, client, now, tokens, sid, amr))
          return false;
        issuer_.audit(t, backup_code ? "login_backup_code" : "login_mfa", *u, client, now);
        result.tokens = tokens;
        result.data = {{"user", public_user(*u)}, {"session_id", sid}};
        if (backup_code) result.data["backup_codes_remaining"] = mfa["backup"].size();
        return t.put(Db::kUsers, id, u->dump());
      },
      err);
  if (!ok && !err.empty()) return store_failure(err);
  return result;
}

}  // namespace spa::authd
