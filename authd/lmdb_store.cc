#include "authd/lmdb_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include "authd/files.h"
#include "authd/server.h"
#include "core/lmdb_handles.h"

namespace spa::authd {
namespace {

constexpr MDB_dbi kFreeDbi = 0, kMainDbi = 1;  // LMDB's own: free pages, and the names of ours

using core::mdb_val;
using core::view;

// The messages are for the log; callers decide by the code.
Error store_full() { return {Errc::kStoreFull, "store_full"}; }
// LMDB's own codes are negative; a positive one is the errno of a system
// call the file system refused (EPERM on an immutable file, EIO, ENOSPC,
// EROFS): the store cannot be written for now, nothing is wrong with it.
Error lmdb_failure(const std::string& what, int rc) {
  return {rc > 0 ? Errc::kStoreUnwritable : Errc::kStoreFailed, what + ": " + mdb_strerror(rc)};
}

// Closes a cursor however the scan ends (a visitor may throw).
class Cursor {
 public:
  int open(MDB_txn* txn, MDB_dbi dbi) { return mdb_cursor_open(txn, dbi, &cursor_); }
  ~Cursor() {
    if (cursor_) mdb_cursor_close(cursor_);
  }
  MDB_cursor* get() const { return cursor_; }

 private:
  MDB_cursor* cursor_ = nullptr;
};

// A Store::Txn over one LMDB transaction.
class LmdbTxnView final : public Store::Txn {
 public:
  LmdbTxnView(MDB_txn* txn, const MDB_dbi* dbis, bool over_limit) : Txn(over_limit), txn_(txn), dbis_(dbis) {}

 protected:
  std::optional<std::string> load(Db db, std::string_view key) const override {
    MDB_val k = mdb_val(key), v;
    int rc = mdb_get(txn_, dbi(db), &k, &v);
    if (rc != 0) {
      if (rc != MDB_NOTFOUND) failed(rc, "get");
      return std::nullopt;
    }
    return std::string(view(v));
  }

  bool save(Db db, std::string_view key, std::string_view value) override {
    MDB_val k = mdb_val(key), v = mdb_val(value);
    int rc = mdb_put(txn_, dbi(db), &k, &v, 0);
    return rc == 0 || failed(rc, "put");
  }

  bool remove(Db db, std::string_view key) override {
    MDB_val k = mdb_val(key);
    int rc = mdb_del(txn_, dbi(db), &k, nullptr);
    return rc == 0 || rc == MDB_NOTFOUND || failed(rc, "del");
  }

  bool each(Db db, std::string_view from, std::string_view prefix, const Visit& fn) const override {
    Cursor cursor;
    int rc = cursor.open(txn_, dbi(db));
    if (rc != 0) return failed(rc, "cursor");
    MDB_val k = mdb_val(from), v;
    rc = mdb_cursor_get(cursor.get(), &k, &v, from.empty() ? MDB_FIRST : MDB_SET_RANGE);
    while (rc == 0) {
      std::string_view key = view(k);
      if (key.substr(0, prefix.size()) != prefix || !fn(key, view(v))) break;
      rc = mdb_cursor_get(cursor.get(), &k, &v, MDB_NEXT);
    }
    return rc == 0 || rc == MDB_NOTFOUND || failed(rc, "scan");
  }

 private:
  MDB_dbi dbi(Db db) const { return dbis_[static_cast<int>(db)]; }
  bool failed(int rc, const char* what) const {
    Error e = rc == MDB_MAP_FULL ? store_full() : lmdb_failure(what, rc);
    return fail(e.code, std::move(e.message));
  }

  MDB_txn* txn_;
  const MDB_dbi* dbis_;
};

}  // namespace

struct LmdbStore::Env {
  core::LmdbEnv env;
  MDB_dbi dbis[kDbCount] = {};
  std::string path;
  uint64_t max_size = kDefaultMaxSize;
  uint64_t map_size = 0;
  mutable std::atomic<bool> warned{false};
  mutable std::atomic<bool> full_logged{false};  // "store_full" is said once per episode
  mutable std::atomic<bool> replaced_logged{false};
  mutable std::atomic<bool> unwritable_logged{false};
  dev_t data_dev = 0;
  ino_t data_ino = 0;

  uint64_t used_bytes(MDB_txn* txn) const {
    MDB_stat st;
    uint64_t pages = 2;  // the meta pages
    auto add = [&](MDB_dbi dbi) {
      if (mdb_stat(txn, dbi, &st) == 0) pages += st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
    };
    add(kFreeDbi);
    add(kMainDbi);
    for (MDB_dbi dbi : dbis) add(dbi);
    mdb_env_stat(env.get(), &st);
    return pages * st.ms_psize;
  }

  Usage usage_in(MDB_txn* txn) const {
    Usage u;
    u.used_bytes = used_bytes(txn);
    MDB_envinfo info;
    MDB_stat st;
    if (mdb_env_info(env.get(), &info) == 0 && mdb_env_stat(env.get(), &st) == 0)
      u.file_bytes = (static_cast<uint64_t>(info.me_last_pgno) + 1) * st.ms_psize;
    u.max_bytes = max_size;
    u.map_bytes = map_size;
    return u;
  }

  // Past the limit when the data passes max_size, or the file's high-water
  // mark eats into the reserve's second half (free pages that readers still
  // pin cannot be reused, so the file can grow faster than the data).
  bool past_limit(const Usage& u) const {
    return u.used_bytes > max_size || u.file_bytes > max_size + reserve_for(max_size) / 2;
  }

  void note_usage(const Usage& u) const {
    if (crossed_warning(warned, u.used_bytes, u.max_bytes))
      log_event("warn", "store_nearly_full", {{"used_bytes", std::to_string(u.used_bytes)},
                                              {"max_bytes", std::to_string(u.max_bytes)}});
  }

  // An error the file system gave: logged once per episode (until a commit
  // succeeds again), not once per request.
  Error unwritable(Error err) const {
    if (err.code == Errc::kStoreUnwritable && !unwritable_logged.exchange(true))
      log_event("error", "store_write_failed", {{"path", path}, {"reason", err.message}});
    return err;
  }

  bool data_file_replaced() const {
    struct stat fs;
    return ::stat((path + "/data.mdb").c_str(), &fs) != 0 || fs.st_dev != data_dev || fs.st_ino != data_ino;
  }
};

LmdbStore::LmdbStore() = default;
LmdbStore::~LmdbStore() = default;

bool LmdbStore::open(const std::string& path, std::string& err, uint64_t max_size) {
  env_.reset();
  auto e = std::make_unique<Env>();
  if (!make_dirs(path, 0750, err)) return false;
  e->path = path;
  e->max_size = max_size;
  e->map_size = max_size + reserve_for(max_size);  // address space, not disk: the file grows as needed
  if (!e->env.open(path, 0, kDbCount, e->map_size, 0640, err)) return false;
  if (!core::lock_matches_data_exactly(e->env.get())) {
    // data.mdb was replaced under a lock file some reader kept open: the
    // writer starts a fresh lock file; readers notice it and reopen.
    log_event("warn", "store_lock_replaced", {{"path", path}});
    e->env.close();
    ::unlink((path + "/lock.mdb").c_str());
    if (!e->env.open(path, 0, kDbCount, e->map_size, 0640, err)) return false;
  }
  ::chmod((path + "/lock.mdb").c_str(), 0660);
  if (!core::data_file_whole(e->env.get(), path, err)) return false;
  struct stat fs;
  if (::stat((path + "/data.mdb").c_str(), &fs) == 0) e->data_dev = fs.st_dev, e->data_ino = fs.st_ino;
  int dead = 0;
  mdb_reader_check(e->env.get(), &dead);  // slots of killed readers (nginx workers)
  if (dead > 0) log_event("info", "store_stale_readers_cleared", {{"count", std::to_string(dead)}});
  // A store larger than max_size (the setting was lowered) still gets the
  // whole reserve beyond what it holds.
  MDB_envinfo info;
  MDB_stat st;
  if (mdb_env_info(e->env.get(), &info) == 0 && mdb_env_stat(e->env.get(), &st) == 0) {
    uint64_t file = (static_cast<uint64_t>(info.me_last_pgno) + 1) * st.ms_psize;
    if (file + reserve_for(max_size) > e->map_size) {
      e->map_size = file + reserve_for(max_size);
      mdb_env_set_mapsize(e->env.get(), e->map_size);
    }
  }
  core::LmdbTxn txn;
  int rc = txn.begin(e->env.get(), 0);
  for (int i = 0; rc == 0 && i < kDbCount; ++i)
    rc = mdb_dbi_open(txn.get(), db_name(static_cast<Db>(i)), MDB_CREATE, &e->dbis[i]);
  if (rc != 0) {
    err = std::string("LMDB ") + path + ": " + mdb_strerror(rc);
    return false;
  }
  LmdbTxnView t(txn.get(), e->dbis, false);
  if (std::string why = prepare_schema(t, path); !why.empty()) {
    err = why;
    return false;
  }
  rc = txn.commit();
  if (rc != 0) {
    err = std::string("LMDB commit: ") + mdb_strerror(rc);
    return false;
  }
  env_ = std::move(e);
  return true;
}

Store::Usage LmdbStore::usage() const {
  if (!env_) return Usage{};
  core::LmdbTxn txn;
  if (txn.begin(env_->env.get(), MDB_RDONLY) != 0) return Usage{0, 0, env_->max_size, env_->map_size};
  Usage u = env_->usage_in(txn.get());
  env_->note_usage(u);
  return u;
}

std::string LmdbStore::metrics() const {
  Usage u = usage();
  auto gauge = [](const char* name, const char* help, uint64_t v) {
    return std::string("# HELP ") + name + " " + help + "\n# TYPE " + name + " gauge\n" + name + " " +
           std::to_string(v) + "\n";
  };
  return gauge("spa_authd_store_used_bytes", "Bytes the store's data takes (LMDB pages in use).", u.used_bytes) +
         gauge("spa_authd_store_file_bytes", "The store file's size (its high-water mark).", u.file_bytes) +
         gauge("spa_authd_store_max_bytes", "[store] max_size: past it, writes that grow the store are refused.",
               u.max_bytes) +
         gauge("spa_authd_store_map_bytes", "The LMDB map: max_size and the reserve kept for revocations.",
               u.map_bytes);
}

Error LmdbStore::run_write(const std::function<TxnEnd(Txn&)>& fn, WriteKind kind) {
  if (!env_) return {Errc::kStoreFailed, "the store is not open"};
  Env& e = *env_;
  // A stat per write (next to a synchronous commit, nothing): a revocation
  // answered 200 must be in the file the module reads.
  if (e.data_file_replaced()) {
    if (!e.replaced_logged.exchange(true))
      log_event("error", "store_file_replaced", {{"path", e.path}, {"action", "restart spa-authd to use the new file"}});
    return {Errc::kStoreReplaced, "store_replaced"};
  }
  e.replaced_logged.store(false);  // the file is back (moved away and back): a next time is logged again
  for (int attempt = 0;; ++attempt) {
    core::LmdbTxn txn;
    int rc = txn.begin(e.env.get(), 0);
    if (rc != 0) return e.unwritable(lmdb_failure("LMDB begin", rc));
    Usage u = e.usage_in(txn.get());
    e.note_usage(u);
    LmdbTxnView t(txn.get(), e.dbis, e.past_limit(u));
    if (t.over_limit() && kind == WriteKind::kOrdinary) return store_full();
    TxnEnd end = fn(t);
    Error err = t.error();
    if (err.ok() && end == TxnEnd::kAbort) return err;  // nothing of it is kept (txn aborts with its handle)
    if (err.ok()) {
      rc = txn.commit();
      if (rc == 0) {
        if (!t.over_limit()) e.full_logged.store(false);
        if (e.unwritable_logged.exchange(false)) log_event("info", "store_writable_again", {{"path", e.path}});
        return err;
      }
      err = rc == MDB_MAP_FULL ? store_full() : e.unwritable(lmdb_failure("LMDB commit", rc));
    }
    txn.abort();
    // A revocation that found no room: pages pinned by dead readers come
    // free once their slots are cleared; try once more.
    if (err.code == Errc::kStoreFull && kind == WriteKind::kRevocation && attempt == 0) {
      int dead = 0;
      mdb_reader_check(e.env.get(), &dead);
      continue;
    }
    if (err.code == Errc::kStoreFull && !e.full_logged.exchange(true))
      log_event("error", "store_full", {{"used_bytes", std::to_string(u.used_bytes)},
                                        {"max_bytes", std::to_string(e.max_size)}});
    return err;
  }
}

Error LmdbStore::run_read(const std::function<void(const Txn&)>& fn) const {
  if (!env_) return {Errc::kStoreFailed, "the store is not open"};
  core::LmdbTxn txn;
  int rc = txn.begin(env_->env.get(), MDB_RDONLY);
  if (rc != 0) return lmdb_failure("LMDB begin", rc);
  LmdbTxnView t(txn.get(), env_->dbis, false);
  fn(t);
  return t.error();
}

}  // namespace spa::authd
