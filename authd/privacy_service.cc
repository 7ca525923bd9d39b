#include "authd/privacy_service.h"

#include <vector>

#include "authd/passwords.h"
#include "authd/records/audit.h"
#include "authd/records/lockout.h"
#include "core/session_record.h"

namespace spa::authd {

using json = nlohmann::json;
using core::SessionState;

Outcome PrivacyService::export_data(const Principal& who) {
  // Addresses, devices and the audit trail: not for a stolen token alone.
  if (auto stale = issuer_.require_recent_auth(who)) return *stale;
  json out;
  bool found = false;
  Error e = store_.view([&](const Store::Txn& t) {
    auto user = load_user(t, who.user_id);
    if (!user) return;
    found = true;
    json account = user->public_view();
    account["updated_at"] = user->updated_at;
    auto lockout = t.get_record<LockoutRecord>(Db::kLockouts, issuer_.lockout_key(user->email)).value_or(LockoutRecord{});
    account["failed_logins"] = lockout.failures;
    account["locked_until"] = lockout.locked_until;
    account["password"] =
        user->password.empty() ? "not set" : "set (an Argon2id hash; the hash itself is not exported)";
    account["identities"] = records::write_value(user->identities.value_or(std::vector<UserRecord::Identity>{}));
    if (user->mfa)
      account["mfa"] = {{"totp", user->mfa->enabled},
                        {"backup_codes_remaining", user->mfa->backup.value_or(std::vector<std::string>{}).size()},
                        {"secret", "set (encrypted; not exported)"}};
    json sessions = json::array();
    for (const auto& sid : SessionIssuer::session_ids(t, who.user_id)) {
      auto rec = load_session(t, sid);
      auto meta = t.get_record<SessionMetaRecord>(Db::kSessionMeta, sid);
      json s = meta ? meta->to_object() : json::object();
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
    const std::string& subject = user->audit_id;
    if (!subject.empty())
      t.scan(Db::kUserAudit, subject, [&](std::string_view k, std::string_view) {
        auto event = t.get_record<AuditRecord>(Db::kAudit, k.substr(subject.size()));
        if (event && event->subject.value_or("") == subject) events.push_back(event->public_view());
        return true;
      });
    out = {{"account", account}, {"sessions", sessions}, {"events", events}};
  });
  if (!e.ok()) return store_failure(e);
  if (!found) return Outcome::error(Errc::kInvalidToken, "account no longer exists");
  Outcome o;
  o.data = out;
  return o;
}

bool PrivacyService::erase_user(Store::Txn& t, const UserRecord& user, const ClientInfo& client, int64_t now) {
  const std::string& id = user.id;
  // Everything through the indexes: no scan of other users' records.
  std::vector<std::string> sids = SessionIssuer::session_ids(t, id), refresh_index, audit_index;
  for (const auto& sid : sids)
    t.scan(Db::kSessionRefresh, sid, [&](std::string_view key, std::string_view) {
      refresh_index.emplace_back(key);
      return true;
    });
  if (!issuer_.clear_failures(t, user.email)) return false;
  issuer_.audit(t, "account_deleted", user, client, now);
  const std::string& subject = user.audit_id;
  if (!subject.empty())
    t.scan(Db::kUserAudit, subject, [&](std::string_view key, std::string_view) {
      audit_index.emplace_back(key);
      return true;
    });
  bool done = true;
  for (const auto& u : kUserTables) done = done && delete_user_records(t, u.db, id);
  // The sessions end as revoked records tied to no one (no user id), which
  // the sweeper deletes once their access tokens have expired, like every
  // ended session's; not by vanishing: a mirror fed from a shared store
  // trusts a session it lacks in a token young enough to be on its way
  // from another node (core/session_reader.h). Their metadata (address,
  // user agent) goes now.
  for (const auto& sid : sids) {
    if (auto rec = load_session(t, sid)) {
      if (rec->state == SessionState::kActive) rec->revoked_at = now;
      rec->state = SessionState::kRevoked;
      rec->user_id = {};
      done = done && t.put(Db::kSessions, sid, rec->encode());
    }
    done = done && t.del(Db::kSessionMeta, sid) && t.del(Db::kUserSessions, id + ":" + sid);
  }
  for (const auto& k : refresh_index)
    done = done && t.del(Db::kRefresh, std::string_view(k).substr(32)) && t.del(Db::kSessionRefresh, k);
  // The events stay, anonymous: their subject goes, and the index that
  // tied them to the user.
  for (const auto& k : audit_index) {
    std::string key = std::string(k).substr(subject.size());
    if (auto event = t.get_record<AuditRecord>(Db::kAudit, key)) {
      event->subject.reset();
      done = done && t.put_record(Db::kAudit, key, *event);
    }
    done = done && t.del(Db::kUserAudit, k);
  }
  for (const auto& i : user.identities.value_or(std::vector<UserRecord::Identity>{}))
    done = done && t.del(Db::kIdentities, i.key());
  return done && t.del(Db::kUsersByEmail, fold(user.email)) && t.del(Db::kUsersByName, fold(user.username)) &&
         delete_user(t, id);
}

Outcome PrivacyService::delete_account(const Principal& who, const std::string& password, const ClientInfo& client) {
  Outcome gone_already;
  std::optional<UserRecord> user = issuer_.current_account(who, gone_already);
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
  bool gone = false, erased = false;
  Error e = store_.transact(
      [&](Store::Txn& t) {
        // As the account is now: if its session ended or its credentials
        // changed since the check (a reset), the check proves nothing.
        auto u = load_user(t, who.user_id);
        auto session = load_session(t, who.sid);
        if (!u || !session || !session->valid_at(now) || u->epoch() != user->epoch()) {
          gone = true;
          return TxnEnd::kAbort;
        }
        erased = erase_user(t, *u, client, now);
        return commit_if(erased);
      },
      Store::WriteKind::kRevocation);
  if (gone) return ended;
  if (!e.ok()) return store_failure(e);
  if (!erased) return store_failure({Errc::kStoreFailed, "delete failed"});
  Outcome o;
  o.end_session = true;
  o.data = {{"deleted", true}};
  return o;
}

bool PrivacyService::sweep_unverified(int64_t now, size_t& erased, std::string& err) {
  if (!config_.require_verified_email) return true;  // such accounts may be in use
  // Only the due entries of the unverified index are read, oldest first;
  // every one looked at is erased or, if its account changed, dropped, so
  // each round makes progress.
  for (bool more = true; more;) {
    std::vector<std::string> due;
    Error e = store_.view([&](const Store::Txn& t) {
      t.scan(Db::kUnverified, "", [&](std::string_view key, std::string_view) {
        if (unverified_due(key) > now || due.size() == kSweepBatch) return false;
        due.emplace_back(key);
        return true;
      });
    });
    if (!e.ok()) return err = e.message, false;
    more = due.size() == kSweepBatch;
    for (const auto& key : due) {
      bool done = false;
      e = store_.transact(
          [&](Store::Txn& t) {
            auto u = load_user(t, std::string_view(key).substr(8));  // unchanged meanwhile?
            auto at = u ? u->unverified_sweep_at() : std::nullopt;
            if (!at || *at > now || unverified_key(*at, u->id) != key)
              return commit_if(t.del(Db::kUnverified, key));  // an entry its account no longer wants
            done = erase_user(t, *u, ClientInfo{}, now);
            return commit_if(done);
          },
          Store::WriteKind::kRevocation);
      if (!e.ok()) return err = e.message, false;
      if (done) ++erased;
    }
  }
  return true;
}

}  // namespace spa::authd
