// Sweeping the store: every record that expires is deleted once nothing
// can use it any more, by a background thread, in transactions of bounded
// size so the writers (logins, refreshes) wait at most one short batch.
//
// What goes when (`now` is a parameter, so tests need no clock):
//   oauth_states   at its expiry (keys start with it: the scan stops early)
//   kUserTables    at "expires_at" (mfa_pending, reset_tokens, ...), with their index entries
//   user_records   index entries whose record is gone
//   refresh        at its expires_at, with its session_refresh entry
//   sessions       when no access token of it can pass any more: revoked_at
//                  (or expires_at while active) + access_ttl + the module's
//                  largest leeway; with session_meta, user_sessions and the
//                  session's refresh records. (No token of it can pass by
//                  then, so a module that takes an unknown sid for one on
//                  its way from another node never meets a deleted one.)
//   audit          after [store] audit_retention, with its user_audit entry
#pragma once

#include <condition_variable>
#include <functional>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "authd/store.h"

namespace spa::authd {

struct SweepSettings {
  int64_t access_ttl = 900;
  int64_t audit_retention = 90 * 86400;
};

class Sweeper {
 public:
  static constexpr size_t kBatch = 500;        // records looked at per transaction
  static constexpr int64_t kMaxLeeway = 600;   // the module's largest spa_auth_leeway

  Sweeper(Store& store, SweepSettings settings) : store_(store), settings_(settings) {}

  // One pass over every swept table. `deleted` counts records deleted per
  // table name (index entries not counted). False with `err` when a
  // transaction failed; what was committed before stays.
  bool sweep(int64_t now, std::map<std::string, size_t>& deleted, std::string& err);

 private:
  Store& store_;
  SweepSettings settings_;
};

// Runs a Sweeper every `interval` seconds (and once at start) until
// destroyed, when this process claims the pass (Store::claim_duty: one
// node of all that share a PostgreSQL store); also looks at the store's
// size, for the 80 % warning.
class SweepThread {
 public:
  // `also`: more sweeping that needs more than the store (unverified
  // accounts, through AuthService), run after each pass.
  SweepThread(Store& store, SweepSettings settings, int64_t interval, std::function<int64_t()> clock,
              std::function<void(int64_t)> also = {});
  ~SweepThread();
  SweepThread(const SweepThread&) = delete;
  SweepThread& operator=(const SweepThread&) = delete;

 private:
  void run();
  Store& store_;
  Sweeper sweeper_;
  int64_t interval_;
  std::function<int64_t()> clock_;
  std::function<void(int64_t)> also_;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace spa::authd
