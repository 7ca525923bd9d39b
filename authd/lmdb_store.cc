#include "authd/lmdb_store.h"

#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <span>
#include <utility>
#include <vector>

#include "authd/files.h"
#include "authd/server.h"
#include "core/lmdb_handles.h"
#include "core/metrics_text.h"

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
  using Txn::take_after_commit;

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

// One caller's write, queued for the group commit (LmdbStore::run_write).
struct Pending {
  const std::function<TxnEnd(Store::Txn&)>* fn;
  Store::WriteKind kind;
  Error result;                // final once `done`
  std::exception_ptr thrown;   // what fn threw, thrown again in the caller's thread
  bool done = false;
  std::vector<std::function<void()>> after_commit;  // Txn::after_commit's, run once its commit is durable
};

// Runs what a committed write registered with Txn::after_commit.
void run_after_commit(Pending& q) {
  for (auto& fn : std::exchange(q.after_commit, {})) {
    try {
      fn();
    } catch (...) {
      // (a counter that could not allocate: the write itself landed)
    }
  }
}

// How one function's run in a transaction ended.
enum class Step {
  kCommit,   // keep what it did
  kDropped,  // nothing to keep, and q.result is final: fn aborted or threw, or refused before it ran
  kFailed,   // a Txn call failed: q.result says which (the store full, a backend error)
};

// The most writes one commit carries: bounds a batch's transaction (its
// dirty pages, and how long the next writers wait behind it).
constexpr size_t kMaxBatch = 64;

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

  // The group commit: writers queue; one of them (the leader) runs the
  // queue's functions in one LMDB transaction and commits it once.
  std::mutex queue_mu;
  std::condition_variable queue_cv;
  std::vector<Pending*> queue;
  bool leading = false;
  std::atomic<uint64_t> commits{0}, writes{0};

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

  // Runs q's function in txn (a write transaction, or a child of one).
  // `u` is the store's use as txn sees it; `over` whether it is past the limit.
  Step run_one(MDB_txn* txn, Pending& q, Usage& u, bool& over) const {
    q.after_commit.clear();  // a write tried again registers afresh
    u = usage_in(txn);
    note_usage(u);
    LmdbTxnView t(txn, dbis, past_limit(u));
    over = t.over_limit();
    if (over && q.kind == WriteKind::kOrdinary) {
      q.result = store_full();
      return Step::kDropped;
    }
    TxnEnd end;
    try {
      end = (*q.fn)(t);
    } catch (...) {
      q.thrown = std::current_exception();
      return Step::kDropped;
    }
    q.result = t.error();
    if (!q.result.ok()) return Step::kFailed;
    if (end != TxnEnd::kCommit) return Step::kDropped;
    q.after_commit = t.take_after_commit();
    return Step::kCommit;
  }

  void committed(bool over, size_t n) {
    commits.fetch_add(1, std::memory_order_relaxed);
    writes.fetch_add(n, std::memory_order_relaxed);
    if (!over) full_logged.store(false);
    if (unwritable_logged.exchange(false)) log_event("info", "store_writable_again", {{"path", path}});
  }

  void said_full(const Error& err, const Usage& u) {
    if (err.code == Errc::kStoreFull && !full_logged.exchange(true))
      log_event("error", "store_full", {{"used_bytes", std::to_string(u.used_bytes)},
                                        {"max_bytes", std::to_string(max_size)}});
  }

  // One write in its own transaction.
  void write_alone(Pending& q) {
    for (int attempt = 0;; ++attempt) {
      core::LmdbTxn txn;
      int rc = txn.begin(env.get(), 0);
      if (rc != 0) {
        q.result = unwritable(lmdb_failure("LMDB begin", rc));
        return;
      }
      Usage u;
      bool over = false;
      Step step = run_one(txn.get(), q, u, over);
      if (step == Step::kDropped) return;  // nothing of it is kept (txn aborts with its handle)
      if (step == Step::kCommit) {
        rc = txn.commit();
        if (rc == 0) {
          committed(over, 1);
          return run_after_commit(q);
        }
        q.result = rc == MDB_MAP_FULL ? store_full() : unwritable(lmdb_failure("LMDB commit", rc));
      }
      txn.abort();
      // A revocation that found no room: pages pinned by dead readers come
      // free once their slots are cleared; try once more.
      if (q.result.code == Errc::kStoreFull && q.kind == WriteKind::kRevocation && attempt == 0) {
        int dead = 0;
        mdb_reader_check(env.get(), &dead);
        continue;
      }
      return said_full(q.result, u);
    }
  }

  // Writes in one transaction: each function in a child transaction of it
  // (so each keeps or drops its own work, and sees the ones before it, as
  // if they had run one after the other), then one commit for them all.
  // A revocation the batch had no room for runs alone after it (with the
  // alone path's second try); if the batch cannot begin or commit, every
  // write it kept runs alone, so one failure never fails a neighbour.
  void write_batch(std::span<Pending* const> batch) {
    if (batch.size() == 1) return write_alone(*batch[0]);
    auto each_alone = [&](std::span<Pending* const> writes) {
      for (Pending* q : writes) {
        q->result = Error{};
        q->thrown = nullptr;
        write_alone(*q);
      }
    };
    core::LmdbTxn parent;
    if (parent.begin(env.get(), 0) != 0) return each_alone(batch);
    std::vector<Pending*> kept, later;
    bool any_over = false;
    for (Pending* q : batch) {
      core::LmdbTxn child;
      if (child.begin_nested(env.get(), parent.get()) != 0) {
        child.abort();
        parent.abort();
        return each_alone(batch);
      }
      Usage u;
      bool over = false;
      Step step = run_one(child.get(), *q, u, over);
      any_over = any_over || over;
      if (step == Step::kCommit) {
        if (child.commit() != 0) {
          parent.abort();
          return each_alone(batch);
        }
        kept.push_back(q);
      } else if (step == Step::kFailed && q->result.code == Errc::kStoreFull && q->kind == WriteKind::kRevocation) {
        later.push_back(q);
      } else if (step == Step::kFailed) {
        said_full(q->result, u);
      }
    }
    if (parent.commit() == 0) {
      if (!kept.empty()) committed(any_over, kept.size());
      for (Pending* q : kept) run_after_commit(*q);
    } else {
      each_alone(kept);
    }
    each_alone(later);
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
  auto metric = [](const char* type, const char* name, const char* help, uint64_t v) {
    return core::metric_family(name, type, help) + core::metric_sample(name, "", v);
  };
  auto gauge = [&](const char* name, const char* help, uint64_t v) { return metric("gauge", name, help, v); };
  auto counter = [&](const char* name, const char* help, uint64_t v) { return metric("counter", name, help, v); };
  return gauge("spa_authd_store_used_bytes", "Bytes the store's data takes (LMDB pages in use).", u.used_bytes) +
         gauge("spa_authd_store_file_bytes", "The store file's size (its high-water mark).", u.file_bytes) +
         gauge("spa_authd_store_max_bytes", "[store] max_size: past it, writes that grow the store are refused.",
               u.max_bytes) +
         gauge("spa_authd_store_map_bytes", "The LMDB map: max_size and the reserve kept for revocations.",
               u.map_bytes) +
         counter("spa_authd_store_commits_total", "Store transactions committed (each one synchronous write).",
                 env_ ? env_->commits.load() : 0) +
         counter("spa_authd_store_writes_total",
                 "Writes committed; writes over commits is the group commit's batch size.",
                 env_ ? env_->writes.load() : 0);
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
  // The group commit: while one batch is being written and synced, the
  // writes that arrive queue; the first of them to find no leader takes
  // the queue (its own write is in it) and writes it as the next batch.
  // Every caller returns only once its write is committed (or refused),
  // so each is as durable as with a commit of its own, and a sync is
  // shared by as many writes as arrived during the one before.
  Pending p{&fn, kind, Error{}, nullptr, false, {}};
  std::unique_lock lock(e.queue_mu);
  e.queue.push_back(&p);
  while (!p.done) {
    if (e.leading) {
      e.queue_cv.wait(lock);
      continue;
    }
    e.leading = true;
    // Taken without allocating: nothing between here and the hand-over
    // below may throw past it.
    std::array<Pending*, kMaxBatch> taken;
    size_t n = std::min(e.queue.size(), kMaxBatch);
    std::copy_n(e.queue.begin(), n, taken.begin());
    e.queue.erase(e.queue.begin(), e.queue.begin() + static_cast<std::ptrdiff_t>(n));
    std::span<Pending* const> batch(taken.data(), n);
    lock.unlock();
    try {
      e.write_batch(batch);  // what a function throws is kept in its Pending
    } catch (...) {
      // The batch's own bookkeeping failed (an allocation): the leader
      // must still hand over, or every writer waits forever. A write whose
      // answer is not known is answered as failed (as a lost connection
      // after its commit would be).
      for (Pending* q : batch)
        if (!q->thrown && q->result.ok()) q->result = {Errc::kStoreFailed, "store write failed"};
    }
    lock.lock();
    for (Pending* q : batch) q->done = true;
    e.leading = false;
    e.queue_cv.notify_all();
  }
  lock.unlock();
  if (p.thrown) std::rethrow_exception(p.thrown);
  return p.result;
}

size_t LmdbStore::queued_writes() const {
  if (!env_) return 0;
  std::lock_guard lock(env_->queue_mu);
  return env_->queue.size();
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
