// The sessions mirror that nginx's workers read (core/session_reader.h),
// kept by a backend whose store lives elsewhere (PostgreSQL, issue 18): an
// LMDB environment at [store] path with the sessions table alone and the
// "mirror" table of its state. LmdbStore keeps the same files in step with
// its own commits; this class is for a store that only feeds it.
//
// The "mirror" table's keys, beside LmdbStore's "seq":
//   confirmed_ms   the time (Unix ms, this machine's clock) before which
//                  every change committed to the shared store is in the
//                  mirror: set after each round that read the store
//   max_staleness  [store] max_staleness, seconds: past it since
//                  confirmed_ms, the module vouches for no session
// The module reads both (core::SessionReader): absent, the mirror is a
// single machine's (LmdbStore's) and always current.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/lmdb_handles.h"

namespace spa::authd {

// Opens the environment at dir: files `mode`, the lock file `lock_mode`.
// Replaces a lock file that belongs to another data file (a store restored
// by renaming over data.mdb while a reader kept the old lock), checks the
// data file is whole, notes its identity, clears dead readers' slots.
bool open_lmdb_env(core::LmdbEnv& env, const std::string& dir, mdb_mode_t mode, mode_t lock_mode, size_t map_size,
                   unsigned max_dbs, dev_t& dev, ino_t& ino, std::string& err);

class SessionMirror {
 public:
  // A session's value, or nullopt: no such session (deleted).
  using Change = std::pair<std::string, std::optional<std::string>>;

  // Creates what is missing: directory 0750, data 0640, lock 0660 (nginx's
  // workers, in spa-authd's group, register as readers).
  bool open(const std::string& dir, uint64_t map_size, std::string& err);

  // One transaction: the changes in order, then confirmed_ms and
  // max_staleness. LMDB's message, or "".
  std::string apply(const std::vector<Change>& changes, int64_t confirmed_ms, int64_t max_staleness);
  // One transaction: the mirror holds exactly `sessions` (sorted or not),
  // and the confirmation. `written`/`deleted`: what differed.
  std::string replace_all(const std::vector<std::pair<std::string, std::string>>& sessions, int64_t confirmed_ms,
                          int64_t max_staleness, size_t& written, size_t& deleted);

  const std::string& path() const { return dir_; }

 private:
  std::string set_confirmed(MDB_txn* txn, int64_t confirmed_ms, int64_t max_staleness);

  core::LmdbEnv env_;
  MDB_dbi sessions_ = 0, state_ = 0;
  std::string dir_;
};

}  // namespace spa::authd
