#include "authd/privacy_service.h"

#include <vector>

#include "authd/passwords.h"
#include "core/json_strict.h"
#include "core/session_record.h"

namespace spa::authd {

using json = nlohmann::json;
using core::SessionState;

Outcome PrivacyService::export_data(const Principal& who) {
  // Addresses, devices and the audit trail: not for a stolen token alone.
  if (auto stale = issuer_.require_recent_auth(who)) return *stale;
  json out;
  std::string err;
  bool found = false;
  bool ok = store_.read(
      [&](const Store::Txn& t) {
        auto user = load_json(t, Db::kUsers, who.user_id);
        if (!user) return;
        found = true;
        json account = public_user(*user);
        account["updated_at"] = user->value("updated_at", int64_t{0});
        auto lockout =
            load_json(t, Db::kLockouts, issuer_.lockout_key(user->value("email", ""))).value_or(json::object());
        account["failed_logins"] = lockout.value("failures", 0);
        account["locked_until"] = lockout.value("locked_until", int64_t{0});
        account["password"] = user->value("password", "").empty()
                                  ? "not set"
                                  : "set (an Argon2id hash; the hash itself is not exported)";
        account["identities"] = user->value("identities", json::array());
        if (user->contains("mfa"))
          account["mfa"] = {{"totp", (*user)["mfa"].value("enabled", false)},
                            {"backup_codes_remaining", (*user)["mfa"].value("backup", json::array()).size()},
                            {"secret", "set (encrypted; not exported)"}};
        json sessions = json::array();
        for (const auto& sid : SessionIssuer::session_ids(t, who.user_id)) {
          auto rec = load_session(t, sid);
          json s = load_json(t, Db::kSessionMeta, sid).value_or(json::object());
          s["id"] = sid;
          if (rec) {
            s["state"] = rec->state == SessionState::kActive ? "active" : "ended";
            s["expires_at"] = rec->expires_at;
            s["revoked_at"] = rec->revoked_at;
          }
          sessions.push_back(s);
        }
        // The user's own events, through user_audit: never a scan of everyone's.
        json events = json::array();
        std::string subject = user->value("audit_id", "");
        if (!subject.empty())
          t.scan(Db::kUserAudit, subject, [&](std::string_view k, std::string_view) {
            auto v = t.get(Db::kAudit, k.substr(subject.size()));
            json e;
            std::string e_err;
            if (v && core::parse_json_strict(*v, e, e_err) && e.is_object() && e.value("subject", "") == subject) {
              e.erase("subject");
              events.push_back(e);
            }
            return true;
          });
        out = {{"account", account}, {"sessions", sessions}, {"events", events}};
      },
      err);
  if (!ok) return store_failure(err);
  if (!found) return Outcome::error(Errc::kInvalidToken, "account no longer exists");
  Outcome o;
  o.data = out;
  return o;
}

bool PrivacyService::erase_user(Store::Txn& t, const json& account, const ClientInfo& client, int64_t now) {
  const json* user = &account;
  std::string id = account.value("id", "");
  // Everything through the indexes: no scan of other users' records.
  std::vector<std::string> sids = SessionIssuer::session_ids(t, id), refresh_index, audit_index;
  for (const auto& sid : sids)
    t.scan(Db::kSessionRefresh, sid, [&](std::string_view key, std::string_view) {
      refresh_index.emplace_back(key);
      return true;
    });
  if (!issuer_.clear_failures(t, user->value("email", ""))) return false;
  issuer_.audit(t, "account_deleted", *user, client, now);
  std::string subject = user->value("audit_id", "");
  if (!subject.empty())
    t.scan(Db::kUserAudit, subject, [&](std::string_view key, std::string_view) {
      audit_index.emplace_back(key);
      return true;
    });
  bool done = true;
  for (const auto& u : kUserTables) done = done && delete_user_records(t, u.db, id);
  for (const auto& sid : sids)
    done = done && t.del(Db::kSessions, sid) && t.del(Db::kSessionMeta, sid) &&
           t.del(Db::kUserSessions, id + ":" + sid);
  for (const auto& k : refresh_index)
    done = done && t.del(Db::kRefresh, std::string_view(k).substr(32)) && t.del(Db::kSessionRefresh, k);
  // The events stay, anonymous: their subject goes, and the index that
  // tied them to the user.
  for (const auto& k : audit_index) {
    std::string key = std::string(k).substr(subject.size());
    if (auto event = load_json(t, Db::kAudit, key)) {
      event->erase("subject");
      done = done && t.put(Db::kAudit, key, event->dump());
    }
    done = done && t.del(Db::kUserAudit, k);
  }
  for (const auto& i : user->value("identities", json::array()))
    done = done && t.del(Db::kIdentities, identity_key(i.value("provider", ""), i.value("subject", "")));
  return done && t.del(Db::kUsersByEmail, fold(user->value("email", ""))) &&
         t.del(Db::kUsersByName, fold(user->value("username", ""))) && t.del(Db::kUsers, id);
}

Outcome PrivacyService::delete_account(const Principal& who, const std::string& password, const ClientInfo& client) {
  Outcome gone_already;
  std::optional<json> user = issuer_.current_account(who, gone_already);
  if (!user) return gone_already;
  int64_t now = issuer_.now();
  // Irreversible: a recent authentication, or the password right here
  // (checked like a login: locked out means not evaluated, wrong counts).
  if (!password.empty()) {
    Outcome checked = issuer_.check_password(*user, password, client);
    if (!checked.ok()) return checked;
  } else if (auto stale = issuer_.require_recent_auth(who)) {
    return *stale;
  }
  Outcome ended = Outcome::error(Errc::kInvalidToken, "the session has ended");
  bool gone = false;
  std::string err;
  bool ok = store_.write(
      [&](Store::Txn& t) {
        // As the account is now: if its session ended or its credentials
        // changed since the check (a reset), the check proves nothing.
        auto u = load_json(t, Db::kUsers, who.user_id);
        auto session = load_session(t, who.sid);
        if (!u || !session || !session->valid_at(now) || credential_epoch(*u) != credential_epoch(*user))
          return gone = true, false;
        return erase_user(t, *u, client, now);
      },
      err, Store::WriteKind::kRevocation);
  if (gone) return ended;
  if (!ok) return store_failure(err.empty() ? "delete failed" : err);
  Outcome o;
  o.end_session = true;
  o.data = {{"deleted", true}};
  return o;
}

bool PrivacyService::sweep_unverified(int64_t now, size_t& erased, std::string& err) {
  if (!config_.require_verified_email) return true;  // such accounts may be in use
  std::string after;
  for (bool more = true; more;) {
    std::vector<json> stale;
    more = false;
    bool ok = store_.read(
        [&](const Store::Txn& t) {
          size_t seen = 0;
          t.scan(Db::kUsers, "", [&](std::string_view key, std::string_view v) {
            if (!after.empty() && key <= after) return true;
            if (++seen > 500) return more = true, false;
            after = std::string(key);
            json u;
            std::string e;
            if (core::parse_json_strict(v, u, e) && u.is_object() && !u.value("email_verified", false) &&
                u.contains("unverified_erase_at") && u.value("unverified_erase_at", now) <= now &&
                u.value("identities", json::array()).empty())
              stale.push_back(std::move(u));
            return true;
          });
        },
        err);
    if (!ok) return false;
    for (const auto& candidate : stale) {
      bool done = store_.write(
          [&](Store::Txn& t) {
            auto u = load_json(t, Db::kUsers, candidate.value("id", ""));  // unchanged meanwhile?
            if (!u || u->value("email_verified", false) || !u->value("identities", json::array()).empty() ||
                u->value("unverified_erase_at", now + 1) > now)
              return false;
            return erase_user(t, *u, ClientInfo{}, now);
          },
          err, Store::WriteKind::kRevocation);
      if (done) ++erased;
      else if (!err.empty()) return false;
    }
  }
  return true;
}

}  // namespace spa::authd
