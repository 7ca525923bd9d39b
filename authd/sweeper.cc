#include "authd/sweeper.h"

#include <chrono>
#include <functional>
#include <vector>

#include "authd/crypto.h"
#include "authd/refresh_rotation.h"
#include "authd/server.h"
#include "authd/records/audit.h"
#include "authd/records/lockout.h"
#include "core/session_record.h"

namespace spa::authd {
namespace {

using Deletions = std::vector<std::pair<Db, std::string>>;
// Looks at one record; adds what to delete (the record first, then what
// hangs on it). False ends the pass (a table sorted by expiry).
using Visit = std::function<bool(const Store::Txn&, std::string_view key, std::string_view value, Deletions&)>;

uint64_t from_be64(std::string_view s) {
  uint64_t v = 0;
  for (size_t i = 0; i < 8 && i < s.size(); ++i) v = (v << 8) | static_cast<uint8_t>(s[i]);
  return v;
}

// One table, from its first key to its last, kBatch records per write.
bool pass(Store& store, Db db, const Visit& visit, size_t& deleted, std::string& err) {
  std::string from;
  for (bool more = true; more;) {
    // What the batch found, kept only once its write landed: a backend may
    // run the function again (PostgreSQL, after a serialization failure).
    std::string next;
    size_t batch_deleted = 0;
    Error e = store.transact(
        [&](Store::Txn& t) {
          Deletions dels;
          size_t seen = 0;
          next.clear();
          batch_deleted = 0;
          more = false;
          bool scanned = t.scan_from(db, from, [&](std::string_view k, std::string_view v) {
            if (seen == Sweeper::kBatch) {
              more = true;
              next = std::string(k);
              return false;
            }
            ++seen;
            return visit(t, k, v, dels);
          });
          if (!scanned) return TxnEnd::kAbort;  // the failure is the result
          for (const auto& [d, k] : dels) {
            if (!t.del(d, k)) return TxnEnd::kAbort;
            if (d == db) ++batch_deleted;
          }
          return TxnEnd::kCommit;
        },
        Store::WriteKind::kRevocation);  // deleting frees room: never refused
    if (!e.ok()) {
      err = e.message;
      return false;
    }
    from = next;
    deleted += batch_deleted;
  }
  return true;
}

}  // namespace

bool Sweeper::sweep(int64_t now, std::map<std::string, size_t>& deleted, std::string& err) {
  const int64_t access_window = settings_.access_ttl + kMaxLeeway;
  struct Rule {
    const char* name;
    Db db;
    Visit visit;
  };
  std::vector<Rule> rules;
  rules.push_back({"oauth_states", Db::kOAuthStates, [now](const Store::Txn&, std::string_view k, std::string_view, Deletions& d) {
                     if (k.size() < 8 || static_cast<int64_t>(from_be64(k)) > now) return false;  // sorted by expiry
                     d.emplace_back(Db::kOAuthStates, k);
                     return true;
                   }});
  for (const auto& table : kUserTables)
    rules.push_back({table.name, table.db, [now, table](const Store::Txn&, std::string_view k, std::string_view v, Deletions& d) {
                       auto r = owned_record(table.db, v);
                       if (r && r->expires_at > now) return true;
                       d.emplace_back(table.db, k);
                       if (r) d.emplace_back(Db::kUserRecords, user_record_index_key(table.db, r->user, k));
                       return true;
                     }});
  // Lockout counters per address (authd/lockout.cc), not tied to a user.
  rules.push_back({"lockouts", Db::kLockouts, [now](const Store::Txn&, std::string_view k, std::string_view v, Deletions& d) {
                     auto r = LockoutRecord::from_json(v);
                     if (!r || r->expires_at <= now) d.emplace_back(Db::kLockouts, k);
                     return true;
                   }});
  rules.push_back({"user_records", Db::kUserRecords, [](const Store::Txn& t, std::string_view k, std::string_view, Deletions& d) {
                     // user id (32) + table letter + the record's key
                     for (const auto& table : kUserTables)
                       if (k.size() > 33 && k[32] == table.tag && !t.get(table.db, k.substr(33)))
                         d.emplace_back(Db::kUserRecords, k);
                     return true;
                   }});
  rules.push_back({"refresh", Db::kRefresh, [now](const Store::Txn&, std::string_view k, std::string_view v, Deletions& d) {
                     auto r = RefreshRecord::from_json(v);
                     if (r && r->expires_at > now) return true;
                     d.emplace_back(Db::kRefresh, k);
                     if (r) d.emplace_back(Db::kSessionRefresh, r->sid + std::string(k));
                     return true;
                   }});
  rules.push_back({"sessions", Db::kSessions, [now, access_window](const Store::Txn& t, std::string_view k, std::string_view v, Deletions& d) {
                     auto rec = core::SessionRecord::decode(v);
                     if (!rec) return true;  // not a record we understand: left alone
                     int64_t end = rec->state == core::SessionState::kActive ? rec->expires_at : rec->revoked_at;
                     if (now < end + access_window) return true;
                     std::string sid(k);
                     d.emplace_back(Db::kSessions, sid);
                     d.emplace_back(Db::kSessionMeta, sid);
                     d.emplace_back(Db::kUserSessions,
                                    hex(std::string_view(reinterpret_cast<const char*>(rec->user_id.data()), rec->user_id.size())) +
                                        ":" + sid);
                     t.scan(Db::kSessionRefresh, sid, [&](std::string_view rk, std::string_view) {
                       d.emplace_back(Db::kSessionRefresh, rk);
                       d.emplace_back(Db::kRefresh, rk.substr(sid.size()));
                       return true;
                     });
                     return true;
                   }});
  const uint64_t audit_cutoff =
      now > settings_.audit_retention ? static_cast<uint64_t>(now - settings_.audit_retention) * 1000000000ull : 0;
  rules.push_back({"audit", Db::kAudit, [audit_cutoff](const Store::Txn&, std::string_view k, std::string_view v, Deletions& d) {
                     if (k.size() < 8 || from_be64(k) >= audit_cutoff) return false;  // sorted by time
                     d.emplace_back(Db::kAudit, k);
                     if (auto e = AuditRecord::from_json(v); e && !e->subject.value_or("").empty())
                       d.emplace_back(Db::kUserAudit, *e->subject + std::string(k));
                     return true;
                   }});
  for (const auto& r : rules) {
    size_t n = 0;
    bool ok = pass(store_, r.db, r.visit, n, err);
    if (n) deleted[r.name] += n;
    if (!ok) return false;
  }
  return true;
}

SweepThread::SweepThread(Store& store, SweepSettings settings, int64_t interval, std::function<int64_t()> clock,
                         std::function<void(int64_t)> also)
    : store_(store), sweeper_(store, settings), interval_(interval), clock_(std::move(clock)), also_(std::move(also)) {
  thread_ = std::thread([this] { run(); });
}

SweepThread::~SweepThread() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void SweepThread::run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    lock.unlock();
    std::map<std::string, size_t> deleted;
    std::string err;
    try {
      // Once for all the nodes that share the store: whoever claims this
      // period's pass (a little shorter than the interval, so that phases
      // drifting apart never skip one).
      if (store_.claim_duty("sweep", std::max<int64_t>(1, interval_ * 9 / 10))) {
        if (!sweeper_.sweep(clock_(), deleted, err)) log_event("error", "store_sweep_failed", {{"reason", err}});
        if (!deleted.empty()) {
          std::map<std::string, std::string> fields;
          for (const auto& [name, n] : deleted) fields[name] = std::to_string(n);
          log_event("info", "store_swept", fields);
        }
        if (also_) also_(clock_());
      }
      store_.usage();  // says when the store passes 80 %
    } catch (const std::exception& e) {
      log_event("error", "store_sweep_failed", {{"reason", e.what()}});
    }
    lock.lock();
    wake_.wait_for(lock, std::chrono::seconds(interval_), [this] { return stopping_; });
  }
}

}  // namespace spa::authd
