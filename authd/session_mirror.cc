#include "authd/session_mirror.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "authd/files.h"
#include "authd/server.h"
#include "core/session_reader.h"
#include "core/session_record.h"

namespace spa::authd {
namespace {

// The mirror's tables and keys, as the module reads them.
constexpr const char* kStateDb = core::SessionReader::kMirrorStateDb;
constexpr const char* kConfirmedKey = core::SessionReader::kConfirmedKey;
constexpr const char* kStalenessKey = core::SessionReader::kMaxStalenessKey;

using core::mdb_val;
using core::view;

int put_text(MDB_txn* txn, MDB_dbi dbi, const char* key, const std::string& value) {
  MDB_val k = mdb_val(key), v = mdb_val(value);
  return mdb_put(txn, dbi, &k, &v, 0);
}

}  // namespace

bool open_lmdb_env(core::LmdbEnv& env, const std::string& dir, mdb_mode_t mode, mode_t lock_mode, size_t map_size,
                   unsigned max_dbs, dev_t& dev, ino_t& ino, std::string& err) {
  if (!env.open(dir, 0, max_dbs, map_size, mode, err)) return false;
  if (!core::lock_matches_data_exactly(env.get())) {
    // data.mdb was replaced under a lock file some reader kept open: the
    // writer starts a fresh lock file; readers notice it and reopen.
    log_event("warn", "store_lock_replaced", {{"path", dir}});
    env.close();
    ::unlink((dir + "/lock.mdb").c_str());
    if (!env.open(dir, 0, max_dbs, map_size, mode, err)) return false;
  }
  ::chmod((dir + "/lock.mdb").c_str(), lock_mode);
  if (!core::data_file_whole(env.get(), dir, err)) return false;
  struct stat fs;
  if (::stat((dir + "/data.mdb").c_str(), &fs) == 0) dev = fs.st_dev, ino = fs.st_ino;
  int dead = 0;
  mdb_reader_check(env.get(), &dead);  // slots of killed readers (nginx workers)
  if (dead > 0) log_event("info", "store_stale_readers_cleared", {{"path", dir}, {"count", std::to_string(dead)}});
  return true;
}

// (Commits sync both pages, as LMDB's default: a round a logout's answer
// waited for must survive a power loss; with MDB_NOMETASYNC nginx could,
// after a reboot, accept the session until spa-authd's first round.)
bool SessionMirror::open(const std::string& dir, uint64_t map_size, std::string& err) {
  dir_ = dir;
  if (!make_dirs(dir, 0750, err)) return false;
  dev_t dev = 0;
  ino_t ino = 0;
  std::string why;
  if (!open_lmdb_env(env_, dir, 0640, 0660, map_size, 3, dev, ino, why)) {
    if (::access((dir + "/data.mdb").c_str(), F_OK) != 0) {
      err = why;
      return false;
    }
    // A damaged mirror: everything in it comes from the shared store again.
    log_event("warn", "store_mirror_recreated", {{"path", dir}, {"reason", why}});
    env_.close();
    ::unlink((dir + "/data.mdb").c_str());
    ::unlink((dir + "/lock.mdb").c_str());
    if (!open_lmdb_env(env_, dir, 0640, 0660, map_size, 3, dev, ino, err)) return false;
  }
  core::LmdbTxn txn;
  int rc = txn.begin(env_.get(), 0);
  if (rc == 0) rc = mdb_dbi_open(txn.get(), core::kSessionsDb, MDB_CREATE, &sessions_);
  if (rc == 0) rc = mdb_dbi_open(txn.get(), kStateDb, MDB_CREATE, &state_);
  // A new mirror vouches for nothing until a round confirms it. One kept
  // from a run before keeps its confirmation (written with what it
  // vouches for), aging until this run's first round.
  MDB_val k = mdb_val(kConfirmedKey), v;
  if (rc == 0 && (rc = mdb_get(txn.get(), state_, &k, &v)) == MDB_NOTFOUND) rc = put_text(txn.get(), state_, kConfirmedKey, "0");
  if (rc == 0) rc = txn.commit();
  if (rc != 0) {
    err = "LMDB " + dir + ": " + mdb_strerror(rc);
    return false;
  }
  return true;
}

std::string SessionMirror::set_confirmed(MDB_txn* txn, int64_t confirmed_ms, int64_t max_staleness) {
  int rc = put_text(txn, state_, kConfirmedKey, std::to_string(confirmed_ms));
  if (rc == 0) rc = put_text(txn, state_, kStalenessKey, std::to_string(max_staleness));
  return rc == 0 ? "" : std::string("LMDB mirror: ") + mdb_strerror(rc);
}

std::string SessionMirror::apply(const std::vector<Change>& changes, int64_t confirmed_ms, int64_t max_staleness) {
  core::LmdbTxn txn;
  int rc = txn.begin(env_.get(), 0);
  for (size_t i = 0; rc == 0 && i < changes.size(); ++i) {
    MDB_val k = mdb_val(changes[i].first);
    if (changes[i].second) {
      MDB_val v = mdb_val(*changes[i].second);
      rc = mdb_put(txn.get(), sessions_, &k, &v, 0);
    } else if ((rc = mdb_del(txn.get(), sessions_, &k, nullptr)) == MDB_NOTFOUND) {
      rc = 0;
    }
  }
  if (rc != 0) return std::string("LMDB mirror: ") + mdb_strerror(rc);
  if (std::string why = set_confirmed(txn.get(), confirmed_ms, max_staleness); !why.empty()) return why;
  rc = txn.commit();
  return rc == 0 ? "" : std::string("LMDB mirror commit: ") + mdb_strerror(rc);
}

std::string SessionMirror::replace_all(const std::vector<std::pair<std::string, std::string>>& sessions,
                                       int64_t confirmed_ms, int64_t max_staleness, size_t& written, size_t& deleted) {
  written = deleted = 0;
  std::vector<const std::pair<std::string, std::string>*> sorted;
  sorted.reserve(sessions.size());
  for (const auto& s : sessions) sorted.push_back(&s);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->first < b->first; });
  core::LmdbTxn txn;
  int rc = txn.begin(env_.get(), 0);
  std::vector<std::string> gone;
  if (rc == 0) {
    // What the mirror holds and `sessions` does not.
    core::LmdbCursor c;
    rc = c.open(txn.get(), sessions_);
    MDB_val k, v;
    for (int op = MDB_FIRST; rc == 0; op = MDB_NEXT) {
      if ((rc = mdb_cursor_get(c.get(), &k, &v, static_cast<MDB_cursor_op>(op))) != 0) break;
      std::string_view key = view(k);
      auto at = std::lower_bound(sorted.begin(), sorted.end(), key, [](auto* s, std::string_view x) { return s->first < x; });
      if (at == sorted.end() || (*at)->first != key) gone.emplace_back(key);
    }
    if (rc == MDB_NOTFOUND) rc = 0;
  }
  for (size_t i = 0; rc == 0 && i < gone.size(); ++i) {
    MDB_val k = mdb_val(gone[i]);
    rc = mdb_del(txn.get(), sessions_, &k, nullptr);
  }
  deleted = gone.size();
  for (size_t i = 0; rc == 0 && i < sorted.size(); ++i) {
    MDB_val k = mdb_val(sorted[i]->first), v;
    rc = mdb_get(txn.get(), sessions_, &k, &v);
    if (rc == 0 && view(v) == sorted[i]->second) continue;
    if (rc != 0 && rc != MDB_NOTFOUND) break;
    MDB_val nv = mdb_val(sorted[i]->second);
    rc = mdb_put(txn.get(), sessions_, &k, &nv, 0);
    ++written;
  }
  if (rc != 0) return std::string("LMDB mirror: ") + mdb_strerror(rc);
  if (std::string why = set_confirmed(txn.get(), confirmed_ms, max_staleness); !why.empty()) return why;
  rc = txn.commit();
  return rc == 0 ? "" : std::string("LMDB mirror commit: ") + mdb_strerror(rc);
}

}  // namespace spa::authd
