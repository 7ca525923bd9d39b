// RAII for LMDB handles shared by spa-authd (read-write) and the module
// (read-only): an environment, transactions that abort unless committed
// (or are kept, reset between lookups), and a snapshot guard.
#pragma once

#include <lmdb.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <string_view>

namespace spa::core {

class LmdbEnv {
 public:
  LmdbEnv() = default;
  ~LmdbEnv() {
    if (env_) mdb_env_close(env_);
  }
  LmdbEnv(const LmdbEnv&) = delete;
  LmdbEnv& operator=(const LmdbEnv&) = delete;

  static constexpr unsigned kMaxReaders = 512;

  // flags: MDB_RDONLY for readers. max_dbs named databases; map_size bytes.
  // max_readers counts only for whoever creates the lock file.
  bool open(const std::string& path, unsigned flags, unsigned max_dbs, size_t map_size, mdb_mode_t mode,
            std::string& err, unsigned max_readers = kMaxReaders) {
    close();
    int rc = mdb_env_create(&env_);
    if (rc == 0) rc = mdb_env_set_maxdbs(env_, max_dbs);
    if (rc == 0 && map_size) rc = mdb_env_set_mapsize(env_, map_size);
    if (rc == 0) rc = mdb_env_set_maxreaders(env_, max_readers);
    if (rc == 0) rc = mdb_env_open(env_, path.c_str(), flags | MDB_NOTLS, mode);
    if (rc != 0) {
      err = std::string("LMDB ") + path + ": " + mdb_strerror(rc);
      if (env_) mdb_env_close(env_);
      env_ = nullptr;
      return false;
    }
    return true;
  }
  void close() {
    if (env_) mdb_env_close(env_);
    env_ = nullptr;
  }
  MDB_env* get() const { return env_; }

 private:
  MDB_env* env_ = nullptr;
};

class LmdbTxn {
 public:
  LmdbTxn() = default;
  ~LmdbTxn() { abort(); }
  LmdbTxn(const LmdbTxn&) = delete;
  LmdbTxn& operator=(const LmdbTxn&) = delete;

  int begin(MDB_env* env, unsigned flags) {
    abort();
    return mdb_txn_begin(env, nullptr, flags, &txn_);
  }
  // A child of `parent` (a write transaction of the same thread): what it
  // does is kept in the parent when it commits, dropped when it aborts.
  int begin_nested(MDB_env* env, MDB_txn* parent) {
    abort();
    return mdb_txn_begin(env, parent, 0, &txn_);
  }
  int commit() {
    int rc = mdb_txn_commit(txn_);
    txn_ = nullptr;
    return rc;
  }
  void abort() {
    if (txn_) mdb_txn_abort(txn_);
    txn_ = nullptr;
  }
  // A read-only transaction kept across lookups (the module's
  // SessionReader): renews the one reset() released, or begins one; one
  // that cannot be renewed is aborted, so the next call begins afresh.
  int renew_read(MDB_env* env) {
    int rc = txn_ ? mdb_txn_renew(txn_) : mdb_txn_begin(env, nullptr, MDB_RDONLY, &txn_);
    if (rc != 0) abort();
    return rc;
  }
  // Releases a read-only transaction's snapshot and keeps its slot.
  void reset() {
    if (txn_) mdb_txn_reset(txn_);
  }
  MDB_txn* get() const { return txn_; }

 private:
  MDB_txn* txn_ = nullptr;
};

// A cursor closed however its scan ends (a visitor may throw).
class LmdbCursor {
 public:
  LmdbCursor() = default;
  ~LmdbCursor() {
    if (cursor_) mdb_cursor_close(cursor_);
  }
  LmdbCursor(const LmdbCursor&) = delete;
  LmdbCursor& operator=(const LmdbCursor&) = delete;
  int open(MDB_txn* txn, MDB_dbi dbi) { return mdb_cursor_open(txn, dbi, &cursor_); }
  MDB_cursor* get() const { return cursor_; }

 private:
  MDB_cursor* cursor_ = nullptr;
};

// Releases a kept read transaction's snapshot when the lookup's scope
// ends, on every path out: a reader that keeps its snapshot stalls the
// writer's page reuse.
class LmdbSnapshot {
 public:
  explicit LmdbSnapshot(LmdbTxn& txn) : txn_(txn) {}
  ~LmdbSnapshot() { txn_.reset(); }
  LmdbSnapshot(const LmdbSnapshot&) = delete;
  LmdbSnapshot& operator=(const LmdbSnapshot&) = delete;

 private:
  LmdbTxn& txn_;
};

// Readers and the writer pick the meta page by the transaction id in the
// lock file. When data.mdb was replaced (a restore, `mdb_copy -c` and
// rename) while some process kept the old lock file open, that id belongs
// to another file: reads would land on the wrong meta page, and the writer
// would build on it. A committing writer updates the data file's meta
// before the lock's id, so for a moment the lock may trail by one.
enum class LockState { kMatches, kTrailsByOne, kForeign };

inline LockState lock_state(MDB_env* env) {
  MDB_envinfo before, after;
  LmdbTxn txn;
  if (mdb_env_info(env, &before) != 0 || txn.begin(env, MDB_RDONLY) != 0) return LockState::kForeign;
  size_t id = mdb_txn_id(txn.get());
  txn.abort();
  if (mdb_env_info(env, &after) != 0) return LockState::kForeign;
  if (before.me_last_txnid <= id && id <= after.me_last_txnid) return LockState::kMatches;
  if (id + 1 == before.me_last_txnid) return LockState::kTrailsByOne;  // a commit in flight, or a foreign lock
  return LockState::kForeign;
}

// For readers, without waiting (nginx workers must not sleep): a lock that
// trails by one may be a commit in flight; a few immediate looks, then the
// caller tries again at its next refresh (a second later).
inline bool lock_matches_data(MDB_env* env) {
  for (int i = 0; i < 3; ++i) {
    LockState s = lock_state(env);
    if (s != LockState::kTrailsByOne) return s == LockState::kMatches;
  }
  return false;
}

// For the writer, exact: under the writer's mutex no commit is in flight,
// so the lock's id is the data file's newest.
inline bool lock_matches_data_exactly(MDB_env* env) {
  LmdbTxn txn;
  if (txn.begin(env, 0) != 0) return false;
  MDB_envinfo info;
  return mdb_env_info(env, &info) == 0 && mdb_txn_id(txn.get()) == info.me_last_txnid + 1;
}

// A data file shorter than its last page would fault (SIGBUS) when read
// through the map: check it before the first read.
inline bool data_file_whole(MDB_env* env, const std::string& dir, std::string& err) {
  MDB_envinfo info;
  MDB_stat st;
  struct stat fs;
  const std::string data = dir + "/data.mdb";
  if (::stat(data.c_str(), &fs) != 0) {
    err = data + ": cannot stat";
    return false;
  }
  long page = ::sysconf(_SC_PAGESIZE);
  if (fs.st_size < 2 * (page > 0 ? page : 4096)) {  // the meta pages are read through the map too
    err = data + " is truncated (no room for its meta pages)";
    return false;
  }
  if (mdb_env_info(env, &info) != 0 || mdb_env_stat(env, &st) != 0) {
    err = "cannot read the environment's header";
    return false;
  }
  // The size again, after the header: a commit between the first stat and
  // the header (the writer grows the file before its meta page names the
  // new pages) must not make a growing file look truncated.
  if (::stat(data.c_str(), &fs) != 0) {
    err = data + ": cannot stat";
    return false;
  }
  uint64_t needed = (static_cast<uint64_t>(info.me_last_pgno) + 1) * st.ms_psize;
  if (static_cast<uint64_t>(fs.st_size) < needed) {
    err = data + " is truncated (" + std::to_string(fs.st_size) + " bytes, its pages need " +
          std::to_string(needed) + ")";
    return false;
  }
  return true;
}


inline MDB_val mdb_val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
inline std::string_view view(const MDB_val& v) { return {static_cast<const char*>(v.mv_data), v.mv_size}; }

}  // namespace spa::core
