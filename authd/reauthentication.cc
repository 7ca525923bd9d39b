// Recent authentication (RFC 9470 style): actions that change how an
// account is reached need a token whose auth_time is at most kRecentAuth
// old. POST /api/v1/auth/reauthenticate renews auth_time with the password
// or a current second factor; POST /api/v1/auth/password changes the
// password behind a recent authentication.
#include "authd/auth_service.h"
#include "authd/crypto.h"
#include "authd/server.h"
#include "authd/totp.h"
#include "core/base64url.h"
#include "core/json_strict.h"
#include "core/session_record.h"

namespace spa::authd {
namespace {

using json = nlohmann::json;
using core::SessionState;

// The caller's account, read in the transaction, while its session is
// still active; else nullopt and `result` says so.
std::optional<json> live_account(const Store::Txn& t, const Principal& who, int64_t now, Outcome& result) {
  auto u = load_json(t, Db::kUsers, who.user_id);
  auto session = load_session(t, who.sid);
  if (u && session && session->valid_at(now)) return u;
  result = Outcome::error(401, "invalid_token", "the session has ended");
  return std::nullopt;
}

}  // namespace


std::optional<Outcome> AuthService::require_recent_auth(const Principal& who) const {
  if (who.auth_time > 0 && who.auth_time >= clock_() - kRecentAuth) return std::nullopt;
  Outcome o = Outcome::error(401, "reauthentication_required",
                             "confirm it is you (POST /api/v1/auth/reauthenticate), then try again within 10 minutes");
  o.max_age = kRecentAuth;
  return o;
}

std::optional<bool> AuthService::password_matches(const json* user, const std::string& password) const {
  std::string phc = user ? user->value("password", "") : std::string();
  if (phc.empty()) {
    if (!hasher_.verify_dummy(password)) return std::nullopt;
    return false;
  }
  return hasher_.verify(phc, password);
}

Outcome AuthService::check_password(const json& user, const std::string& password, const ClientInfo& client) {
  auto good = password_matches(&user, password);
  if (!good) return server_busy();
  int64_t now = clock_();
  std::string email = user.value("email", "");
  Outcome result;
  std::string err;
  bool ok = store_.write(
      [&](Store::Txn& t) {
        if (auto locked = locked_out(t, email, now)) {
          result = *locked;
          return false;
        }
        if (*good) return false;  // nothing to write
        result = record_failure(t, email, &user, client, now, "invalid_credentials", "password is wrong");
        return true;
      },
      err);
  if (!ok && !err.empty()) return store_failure(err);
  return result;
}

bool AuthService::take_second_factor(json& u, const std::string& code, bool backup, int64_t now) const {
  if (!u.contains("mfa") || !u["mfa"].value("enabled", false)) return false;
  json& mfa = u["mfa"];
  std::string id = u.value("id", "");
  if (backup) {
    // Single use: the matching hash leaves the list. Every entry is
    // compared, so the time does not tell which one matched.
    std::string h = backup_code_hash(id, code);
    json remaining = json::array();
    bool good = false;
    for (const auto& stored : mfa.value("backup", json::array())) {
      bool match = stored.is_string() && equal_secret(stored.get<std::string>(), h);
      if (match && !good) good = true;
      else remaining.push_back(stored);
    }
    if (good) mfa["backup"] = remaining;
    return good;
  }
  if (mfa.value("method", "totp") == "email") return take_action_code(u, code, now);
  auto secret = totp_secret(u, "secret");
  if (!secret) return false;
  auto step = totp::verify(*secret, code, now);
  // A code accepted once (this step or an earlier one) is spent.
  if (!step || *step <= mfa.value("last_step", uint64_t{0})) return false;
  mfa["last_step"] = *step;
  return true;
}

Outcome AuthService::reauthenticate(const Principal& who, const std::string& password, const std::string& code,
                                    bool backup_code, const ClientInfo& client) {
  std::optional<json> user;
  std::string err;
  if (!store_.read([&](const Store::Txn& t) { user = load_json(t, Db::kUsers, who.user_id); }, err))
    return store_failure(err);
  if (!user) return Outcome::error(401, "invalid_token", "account no longer exists");
  bool by_password = !password.empty();
  std::optional<bool> good_password = false;
  if (by_password) good_password = password_matches(&*user, password);
  if (!good_password) return server_busy();
  int64_t now = clock_();
  Outcome result;
  bool ok = store_.write(
      [&](Store::Txn& t) {
        auto u = live_account(t, who, now, result);
        if (!u) return false;
        std::string email = u->value("email", "");
        if (auto locked = locked_out(t, email, now)) {
          result = *locked;
          return false;
        }
        // A password checked against credentials the account no longer has is not good.
        bool good = by_password ? *good_password && credential_epoch(*u) == credential_epoch(*user)
                                : take_second_factor(*u, code, backup_code, now);
        if (!good) {
          result = by_password
                       ? record_failure(t, email, &*u, client, now, "invalid_credentials", "password is wrong")
                       : record_failure(t, email, &*u, client, now, "invalid_code",
                                        "the code is wrong, expired or already used");
          return t.put(Db::kUsers, who.user_id, u->dump());  // a spent TOTP step stays spent
        }
        // A new session (new refresh token, auth_time now) replaces this
        // one: whoever else holds this session's refresh token does not
        // become "recently authenticated" with it.
        auto meta = load_json(t, Db::kSessionMeta, who.sid).value_or(json::object());
        // What this re-authentication proved, now: a password says "pwd"; a
        // second factor adds "otp" to the session's first factor. A factor
        // passed once, earlier in the session, is not carried over.
        json amr = by_password ? json::array({"pwd"}) : first_factors(meta.value("amr", json::array()));
        if (!by_password) amr.push_back("otp");
        IssuedTokens tokens;
        std::string sid;
        if (!end_session(t, who.sid, now) || !start_session(t, *u, client, now, tokens, sid, amr)) return false;
        result.tokens = tokens;
        result.data = {{"user", public_user(*u)}, {"session_id", sid}, {"auth_time", now}, {"max_age", kRecentAuth}};
        audit(t, by_password ? "reauthenticated_password" : "reauthenticated_second_factor", *u, client, now);
        return clear_failures(t, email) && t.put(Db::kUsers, who.user_id, u->dump());
      },
      err);
  if (!ok && !err.empty()) return store_failure(err);
  return result;
}

Outcome AuthService::change_password(const Principal& who, const std::string& password, const ClientInfo& client) {
  if (auto stale = require_recent_auth(who)) return *stale;
  std::optional<json> user;
  std::string err;
  if (!store_.read([&](const Store::Txn& t) { user = load_json(t, Db::kUsers, who.user_id); }, err))
    return store_failure(err);
  if (!user) return Outcome::error(401, "invalid_token", "account no longer exists");
  if (auto problem = password_problem(password, user->value("email", ""), user->value("username", "")))
    return Outcome::error(400, "validation_failed", *problem);
  auto phc = hasher_.hash(password);  // slow; outside the write lock
  if (!phc) return server_busy();
  int64_t now = clock_();
  Outcome result;
  bool ok = store_.write(
      [&](Store::Txn& t) {
        auto u = live_account(t, who, now, result);
        if (!u) return false;
        // Every session ends, this one too (its refresh token may have been
        // copied); the caller continues in a new one.
        size_t ended = 0;
        t.scan(Db::kUserSessions, who.user_id + ":", [&](std::string_view, std::string_view) { return ++ended, true; });
        if (!end_all_sessions(t, who.user_id, now, SessionState::kRevoked)) return false;
        (*u)["password"] = *phc;
        if (!new_credentials(t, *u)) return false;
        (*u)["updated_at"] = now;
        auto meta = load_json(t, Db::kSessionMeta, who.sid).value_or(json::object());
        IssuedTokens tokens;
        std::string sid;
        if (!start_session(t, *u, client, now, tokens, sid, meta.value("amr", json::array({"pwd"})))) return false;
        result.tokens = tokens;
        result.data = {{"user", public_user(*u)}, {"session_id", sid}, {"sessions_ended", ended}};
        audit(t, "password_changed", *u, client, now);
        return clear_failures(t, u->value("email", "")) && t.put(Db::kUsers, who.user_id, u->dump());
      },
      // Ends sessions: it must work in a full store, like any revocation.
      err, Store::WriteKind::kRevocation);
  if (!ok && !err.empty()) return store_failure(err);
  return result;
}

bool AuthService::floor_all_sessions(Store::Txn& t, const std::string& user_id, int64_t now) {
  std::vector<std::string> sids;
  t.scan(Db::kUserSessions, user_id + ":", [&](std::string_view key, std::string_view) {
    sids.emplace_back(key.substr(user_id.size() + 1));
    return true;
  });
  for (const auto& sid : sids) {
    auto rec = load_session(t, sid);
    if (!rec || rec->state != SessionState::kActive) continue;
    // iat is in whole seconds: a token of this very second may predate
    // the change, so the floor is the next second; new tokens start there.
    // Strictly later than any earlier floor: tokens minted after an
    // earlier change in this same second carry iat = that floor.
    // Capped a few seconds ahead, so that a burst of changes cannot push
    // new tokens past the module's leeway (nbf) or beyond their lifetime.
    rec->tokens_not_before = std::min(std::max(rec->tokens_not_before + 1, now + 1), now + kMaxFloorAhead);
    if (!t.put(Db::kSessions, sid, rec->encode())) return false;
  }
  return true;
}


}  // namespace spa::authd
