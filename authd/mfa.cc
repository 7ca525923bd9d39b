// Second factor: TOTP (RFC 6238 via liboath) with backup codes, and the
// gate that turns a password-checked login into a session.
#include "authd/auth_service.h"
#include "authd/crypto.h"
#include "authd/mailer.h"
#include "authd/qr_svg.h"
#include "authd/server.h"
#include "authd/totp.h"
#include "core/base64url.h"
#include "core/json_strict.h"

namespace spa::authd {
namespace {

using json = nlohmann::json;

std::optional<json> load_user(const Store::Txn& t, const std::string& id) { return load_json(t, Db::kUsers, id); }

bool enabled(const json& u) { return u.contains("mfa") && u["mfa"].value("enabled", false); }
bool email_method(const json& u) { return u.contains("mfa") && u["mfa"].value("method", "totp") == "email"; }

std::string six_digits() {
  std::string raw = random_bytes(4);
  uint32_t n = 0;
  for (char c : raw) n = (n << 8) | static_cast<unsigned char>(c);
  std::string s = std::to_string(n % 1000000);
  return std::string(6 - s.size(), '0') + s;
}

std::string normalize_backup_code(std::string_view code) {
  std::string out;
  for (char c : code)
    if (c != '-' && c != ' ') out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  return out;
}

}  // namespace

std::string AuthService::backup_code_hash(const std::string& user_id, std::string_view code) const {
  // Keyed with the MFA key: a copy of the store alone does not let anyone
  // test guesses against the hashes.
  return hex(hmac_sha256(mfa_key_, "backup-code:" + user_id + ":" + normalize_backup_code(code)));
}

std::string AuthService::email_code_hash(const std::string& user_id, std::string_view code) const {
  return hex(hmac_sha256(mfa_key_, "email-code:" + user_id + ":" + std::string(code)));
}

std::string AuthService::new_email_code(const std::string& user_id, std::string& hash) const {
  std::string code = six_digits();
  hash = email_code_hash(user_id, code);
  return code;
}

std::string AuthService::new_action_code(json& u, int64_t now) const {
  std::string hash;
  std::string code = new_email_code(u.value("id", ""), hash);
  u["mfa"]["email_code"] = {{"hash", hash}, {"expires_at", now + kEmailCodeTtl}};
  return code;
}

bool AuthService::take_action_code(json& u, std::string_view code, int64_t now) const {
  if (!u.contains("mfa") || !u["mfa"].contains("email_code")) return false;
  const json& c = u["mfa"]["email_code"];
  bool good = c.value("expires_at", int64_t{0}) > now &&
              equal_secret(c.value("hash", ""), email_code_hash(u.value("id", ""), code));
  if (good) u["mfa"].erase("email_code");  // single use
  return good;
}

void AuthService::mail_code(const std::string& address, const std::string& code) const {
  deliver(MailClass::kCode, address, "Your sign-in code",
                  "Your code is " + code + ". It is valid for 10 minutes and can be used once.\n\n"
                  "If you did not ask for it, someone may know your password: change it.\n");
}

std::vector<std::string> AuthService::new_backup_codes(const std::string& user_id, json& mfa) const {
  static const char* alphabet = "abcdefghjkmnpqrstuvwxyz23456789";  // no 0/o, 1/l/i
  std::vector<std::string> codes;
  json hashes = json::array();
  for (int i = 0; i < kBackupCodes; ++i) {
    std::string raw = random_bytes(8), code;
    for (size_t j = 0; j < raw.size(); ++j) {
      if (j == 4) code.push_back('-');
      code.push_back(alphabet[static_cast<unsigned char>(raw[j]) % 31]);
    }
    hashes.push_back(backup_code_hash(user_id, code));
    codes.push_back(code);
  }
  mfa["backup"] = hashes;
  return codes;
}

std::optional<std::string> AuthService::totp_secret(const json& u, const char* field) const {
  if (!u.contains("mfa")) return std::nullopt;
  std::string box;
  if (!core::base64url_decode(u["mfa"].value(field, ""), box)) return std::nullopt;
  return open_sealed(mfa_key_, box, "totp:" + u.value("id", ""));
}

Outcome AuthService::mfa_setup(const Principal& who) {
  if (auto stale = require_recent_auth(who)) return *stale;
  int64_t now = clock_();
  std::string secret = totp::new_secret();
  Outcome result;
  std::string err;
  bool ok = store_.write(
      [&](Store::Txn& t) {
        auto u = load_user(t, who.user_id);
        if (!u) {
          result = Outcome::error(401, "invalid_token", "account no longer exists");
          return false;
        }
        if (enabled(*u)) {
          result = Outcome::error(409, "mfa_already_enabled", "two-factor authentication is already on");
          return false;
        }
        // Pending until /mfa/enable proves the authenticator has it.
        (*u)["mfa"] = {{"enabled", false},
                       {"pending", core::base64url_encode(seal(mfa_key_, secret, "totp:" + who.user_id))}};
        (*u)["updated_at"] = now;
        std::string uri = totp::otpauth_uri(config_.mfa_issuer_name, u->value("email", ""), secret);
        result.data = {{"secret", totp::base32(secret)}, {"otpauth_uri", uri}, {"qr_svg", qr_svg(uri)}};
        return t.put(Db::kUsers, who.user_id, u->dump());
      },
      err);
  if (!ok && !err.empty()) return store_failure(err);
  return result;
}

Outcome AuthService::mail_action_code(const Principal& who, const ClientInfo& client, const char* event,
                                      const std::function<std::optional<Outcome>(json&)>& check) {
  int64_t now = clock_();
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
          result = Outcome::error(403, "email_not_verified", "confirm your e-mail address before codes can be mailed to it");
          return false;
        }
        int64_t wait = 0;
        if (!mail_room(MailClass::kCode, u->value("email", ""), who.user_id, now, wait)) {
          result = Outcome::error(429, "mail_rate_limited",
                                  "too many codes were mailed to this address; try again later", wait);
          return false;
        }
        code = new_action_code(*u, now);
        address = u->value("email", "");
        audit(t, event, *u, client, now);
        result.data = {{"method", "email"}, {"sent", true}, {"expires_in", kEmailCodeTtl}};
        return t.put(Db::kUsers, who.user_id, u->dump());
      },
      err);
  if (!ok && !err.empty()) return store_failure(err);
  if (ok) mail_code(address, code);  // after the commit: no mail for a code that was never stored
  return result;
}

Outcome AuthService::mfa_setup_email(const Principal& who, const ClientInfo& client) {
  if (auto stale = require_recent_auth(who)) return *stale;
  return mail_action_code(who, client, "mfa_email_setup", [](json& u) -> std::optional<Outcome> {
    if (enabled(u)) return Outcome::error(409, "mfa_already_enabled", "two-factor authentication is already on");
    u["mfa"] = {{"enabled", false}, {"method", "email"}};  // pending until /mfa/enable
    return std::nullopt;
  });
}

Outcome AuthService::mfa_send_email_code(const Principal& who, const ClientInfo& client) {
  return mail_action_code(who, client, "mfa_email_code_sent", [](json& u) -> std::optional<Outcome> {
    if (!email_method(u)) return Outcome::error(400, "mfa_not_enabled", "the e-mail method is not set up");
    return std::nullopt;
  });
}

Outcome AuthService::mfa_enable(const Principal& who, const std::string& code, const ClientInfo& client) {
  if (auto stale = require_recent_auth(who)) return *stale;
  int64_t now = clock_();
  Outcome result;
  std::string err;
  bool ok = store_.write(
      [&](Store::Txn& t) {
        auto u = load_user(t, who.user_id);
        if (!u) return false;
        std::string email = u->value("email", "");
        if (auto locked = locked_out(t, email, now)) {
          result = *locked;
          return false;
        }
        if (enabled(*u)) {
          result = Outcome::error(409, "mfa_already_enabled", "two-factor authentication is already on");
          return false;
        }
        if (email_method(*u)) {
          if (!take_action_code(*u, code, now)) {
            result = record_failure(t, email, &*u, client, now, "invalid_code", "the code is wrong or expired");
            return t.put(Db::kUsers, who.user_id, u->dump());
          }
          json mfa = {{"enabled", true}, {"method", "email"}, {"enabled_at", now}};
          auto codes = new_backup_codes(who.user_id, mfa);
          (*u)["mfa"] = mfa;
          (*u)["updated_at"] = now;
          audit(t, "mfa_enabled", *u, client, now);
          result.data = {{"enabled", true}, {"method", "email"}, {"backup_codes", codes}};
          return t.put(Db::kUsers, who.user_id, u->dump());
        }
        auto secret = totp_secret(*u, "pending");
        if (!secret) {
          result = Outcome::error(400, "mfa_not_set_up", "call /api/v1/mfa/setup first");
          return false;
        }
        auto step = totp::verify(*secret, code, now);
        if (!step) {
          result = record_failure(t, email, &*u, client, now, "invalid_code", "the code is wrong or expired");
          return true;
        }
        json mfa = {{"enabled", true},
                    {"secret", (*u)["mfa"]["pending"]},
                    {"last_step", *step},
                    {"enabled_at", now}};
        auto codes = new_backup_codes(who.user_id, mfa);
        (*u)["mfa"] = mfa;
        (*u)["updated_at"] = now;
        audit(t, "mfa_enabled", *u, client, now);
        result.data = {{"enabled", true}, {"backup_codes", codes}};
        return t.put(Db::kUsers, who.user_id, u->dump());
      },
      err);
  if (!ok && !err.empty()) return store_failure(err);
  return result;
}

Outcome AuthService::with_current_code(
    const Principal& who, const std::string& code, const ClientInfo& client,
    const std::function<void(Store::Txn&, json&, Outcome&)>& action) {
  if (auto stale = require_recent_auth(who)) return *stale;
  int64_t now = clock_();
  Outcome result;
  std::string err;
  bool ok = store_.write(
      [&](Store::Txn& t) {
        auto u = load_user(t, who.user_id);
        if (!u) return false;
        if (!enabled(*u)) {
          result = Outcome::error(400, "mfa_not_enabled", "two-factor authentication is off");
          return false;
        }
        std::string email = u->value("email", "");
        if (auto locked = locked_out(t, email, now)) {  // the code is not even looked at
          result = *locked;
          return false;
        }
        if (!take_second_factor(*u, code, false, now)) {
          result = record_failure(t, email, &*u, client, now, "invalid_code",
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

Outcome AuthService::mfa_disable(const Principal& who, const std::string& code, const ClientInfo& client) {
  return with_current_code(who, code, client, [&](Store::Txn& t, json& u, Outcome& result) {
    u.erase("mfa");
    int64_t now = clock_();
    // No session of the user says any more that it passed a second factor,
    // and tokens minted saying so stop passing (a refresh mints one without).
    std::vector<std::string> sids;
    t.scan(Db::kUserSessions, who.user_id + ":", [&](std::string_view key, std::string_view) {
      sids.emplace_back(key.substr(who.user_id.size() + 1));
      return true;
    });
    for (const auto& sid : sids) {
      auto meta = load_json(t, Db::kSessionMeta, sid);
      if (!meta || !meta->contains("amr")) continue;
      (*meta)["amr"] = first_factors((*meta)["amr"]);
      if (!t.put(Db::kSessionMeta, sid, meta->dump())) return void(result = store_failure(t.error()));
    }
    if (!floor_all_sessions(t, who.user_id, now)) return void(result = store_failure(t.error()));
    // The caller goes on in a new session (after the floor, so its tokens
    // pass) that says what is true now.
    json amr = first_factors(load_json(t, Db::kSessionMeta, who.sid).value_or(json::object()).value("amr", json::array()));
    IssuedTokens tokens;
    std::string sid;
    if (!end_session(t, who.sid, now) || !start_session(t, u, client, now, tokens, sid, amr)) {
      result = store_failure(t.error().empty() ? "cannot start the session" : t.error());
      return;
    }
    audit(t, "mfa_disabled", u, client, now);
    result.tokens = tokens;
    result.data = {{"enabled", false}, {"session_id", sid}};
  });
}

Outcome AuthService::mfa_new_backup_codes(const Principal& who, const std::string& code, const ClientInfo& client) {
  return with_current_code(who, code, client, [&](Store::Txn& t, json& u, Outcome& result) {
    auto codes = new_backup_codes(who.user_id, u["mfa"]);
    audit(t, "mfa_backup_codes_replaced", u, client, clock_());
    result.data = {{"backup_codes", codes}};
  });
}

Outcome AuthService::mfa_status(const Principal& who) {
  std::optional<json> u;
  std::string err;
  if (!store_.read([&](const Store::Txn& t) { u = load_user(t, who.user_id); }, err)) return store_failure(err);
  if (!u) return Outcome::error(401, "invalid_token", "account no longer exists");
  Outcome o;
  o.data = {{"enabled", enabled(*u)},
            {"method", enabled(*u) ? (*u)["mfa"].value("method", "totp") : ""},
            {"backup_codes_remaining", enabled(*u) ? (*u)["mfa"].value("backup", json::array()).size() : 0}};
  return o;
}

Outcome AuthService::mfa_verify(const std::string& mfa_token, const std::string& code, bool backup_code,
                                const ClientInfo& client) {
  int64_t now = clock_();
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
          result = Outcome::error(401, "invalid_token", "mfa_token is not valid or has expired");
          return text ? t.del(Db::kMfaPending, key) : false;
        }
        std::string id = pending.value("user", "");
        auto u = load_user(t, id);
        // The login checked credentials the account no longer has (a reset,
        // a password change, a disable since): it ends here.
        if (!u || u->value("disabled", false) || !enabled(*u) ||
            pending.value("epoch", int64_t{0}) != credential_epoch(*u)) {
          result = Outcome::error(401, "invalid_token", "mfa_token is not valid or has expired");
          return t.del(Db::kMfaPending, key);
        }
        std::string email = u->value("email", "");
        if (auto locked = locked_out(t, email, now)) {  // the code is not even looked at
          result = *locked;
          return false;
        }
        // The e-mail method's code is the one mailed for this login (the
        // mfa_token dies with its use); backup and TOTP codes as for any action.
        bool good = !backup_code && email_method(*u)
                        ? equal_secret(pending.value("email_code", ""), email_code_hash(id, code))
                        : take_second_factor(*u, code, backup_code, now);
        json& mfa = (*u)["mfa"];
        if (!good) {
          result = record_failure(t, email, &*u, client, now, "invalid_code", "the code is wrong, expired or already used");
          pending["attempts"] = pending.value("attempts", 0) + 1;
          bool spent = pending["attempts"].get<int>() >= kMfaTokenAttempts;
          return t.put(Db::kUsers, id, u->dump()) &&
                 (spent ? t.del(Db::kMfaPending, key) : t.put(Db::kMfaPending, key, pending.dump()));
        }
        if (!clear_failures(t, email)) return false;
        IssuedTokens tokens;
        std::string sid;
        json amr = pending.value("amr", json::array({"pwd"}));
        if (!amr.is_array()) amr = json::array({"pwd"});
        amr.push_back("otp");
        if (!t.del(Db::kMfaPending, key) || !start_session(t, *u, client, now, tokens, sid, amr))
          return false;
        audit(t, backup_code ? "login_backup_code" : "login_mfa", *u, client, now);
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
