#include "authd/lmdb_store.h"

#include <fcntl.h>
#include <limits.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <span>
#include <utility>
#include <vector>

#include "authd/files.h"
#include "authd/server.h"
#include "authd/session_mirror.h"
#include "core/lmdb_handles.h"
#include "core/metrics_text.h"
#include "core/session_reader.h"

namespace spa::authd {
namespace {

constexpr MDB_dbi kFreeDbi = 0, kMainDbi = 1;  // LMDB's own: free pages, and the names of ours
// The mirror's tables: core::kSessionsDb, and this one (its sequence).
constexpr const char* kMirrorStateDb = core::SessionReader::kMirrorStateDb;

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

// A change to the sessions table, for the mirror: the value put, or
// nullopt for a deletion.
struct SessionChange {
  std::string sid;
  std::optional<std::string> value;
};

// A Store::Txn over one LMDB transaction. It also keeps what it did to the
// sessions table, in order, for the mirror that nginx reads.
class LmdbTxnView final : public Store::Txn {
 public:
  LmdbTxnView(MDB_txn* txn, const MDB_dbi* dbis, bool over_limit) : Txn(over_limit), txn_(txn), dbis_(dbis) {}
  using Txn::take_after_commit;
  std::vector<SessionChange> take_session_changes() { return std::move(sessions_); }

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
    if (rc != 0) return failed(rc, "put");
    if (db == Db::kSessions) sessions_.push_back({std::string(key), std::string(value)});
    return true;
  }

  bool remove(Db db, std::string_view key) override {
    MDB_val k = mdb_val(key);
    int rc = mdb_del(txn_, dbi(db), &k, nullptr);
    if (rc != 0 && rc != MDB_NOTFOUND) return failed(rc, "del");
    if (db == Db::kSessions) sessions_.push_back({std::string(key), std::nullopt});
    return true;
  }

  bool each(Db db, std::string_view from, std::string_view prefix, const Visit& fn) const override {
    core::LmdbCursor cursor;
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
  std::vector<SessionChange> sessions_;
};

// One caller's write, queued for the group commit (LmdbStore::run_write).
struct Pending {
  const std::function<TxnEnd(Store::Txn&)>* fn;
  Store::WriteKind kind;
  Error result;                // final once `done`
  std::exception_ptr thrown;   // what fn threw, thrown again in the caller's thread
  bool done = false;
  std::vector<std::function<void()>> after_commit;  // Txn::after_commit's, run once its commit is durable
  std::vector<SessionChange> sessions;              // what it did to the sessions table, for the mirror
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

  // The mirror at [store] path: the sessions table alone, all that nginx's
  // workers read (core::SessionReader), in an environment of its own so
  // that they (in spa-authd's group) can read nothing else. Its writes
  // follow the store's: a write that changed a session is answered only
  // once the mirror holds the change too.
  core::LmdbEnv mirror;
  MDB_dbi mirror_dbi = 0;
  // The mirror's "mirror" table: "seq", the store's meta "mirror_seq" it
  // matches. Every commit that changes the mirror bumps both; a process
  // whose mirror commit failed (this one, or the CLI) leaves them apart,
  // and the next write of any process syncs first (ensure_mirror).
  MDB_dbi mirror_state_dbi = 0;
  std::string mirror_path;
  dev_t mirror_dev = 0;
  ino_t mirror_ino = 0;
  // The store holds a change the mirror may lack (the mirror's commit
  // failed): every next write first brings the mirror in line (sync_mirror).
  std::atomic<bool> mirror_stale{false};
  std::atomic<bool> mirror_logged{false};

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
    q.sessions.clear();
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
    q.sessions = t.take_session_changes();
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
        Pending* one[] = {&q};
        core::LmdbTxn m;
        if (int mrc = stage_mirror(m, txn.get(), one); mrc != 0) {
          q.result = mirror_failed(lmdb_failure("LMDB mirror", mrc));
          return;  // nothing was committed: the store's transaction aborts with its handle
        }
        rc = txn.commit();
        if (rc == 0) {
          committed(over, 1);
          commit_mirror(m, one);
          return run_after_commit(q);
        }
        m.abort();
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
    if (Error err = ensure_mirror(); !err.ok()) {
      for (Pending* q : batch) q->result = err;
      return;
    }
    if (batch.size() == 1) return write_alone(*batch[0]);
    auto each_alone = [&](std::span<Pending* const> writes) {
      for (Pending* q : writes) {
        q->result = Error{};
        q->thrown = nullptr;
        // (a mirror commit of this batch failed: nothing more is answered
        // until the mirror is synced)
        if (mirror_stale.load()) {
          if (Error err = sync_mirror(); !err.ok()) {
            q->result = err;
            continue;
          }
        }
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
    core::LmdbTxn m;
    if (int rc = stage_mirror(m, parent.get(), kept); rc != 0) {
      mirror_failed(lmdb_failure("LMDB mirror", rc));
      parent.abort();
      each_alone(kept);  // each answers for itself
    } else if (parent.commit() == 0) {
      if (!kept.empty()) committed(any_over, kept.size());
      commit_mirror(m, kept);
      for (Pending* q : kept) run_after_commit(*q);
    } else {
      m.abort();
      each_alone(kept);
    }
    each_alone(later);
  }

  // Begins the mirror's write transaction and makes in it what `writes` did
  // to the sessions table, in their order (none: nothing begun, 0). Called
  // while the store's write transaction is open and before it commits, so
  // the mirror's writer lock is taken before the store's is let go: mirror
  // writes land in the order of the store's commits, whichever process
  // (spa-authd, its CLI) made them, and sync_mirror, which holds the
  // mirror's lock while it reads the store, never misses one.
  int stage_mirror(core::LmdbTxn& m, MDB_txn* store_txn, std::span<Pending* const> writes) {
    bool any = std::any_of(writes.begin(), writes.end(), [](const Pending* q) { return !q->sessions.empty(); });
    if (!any) return 0;
    for (int attempt = 0;; ++attempt) {
      int rc = m.begin(mirror.get(), 0);
      // Both writer locks held: the mirror must be the store as of before
      // this batch. If not (a process committed the store and not the
      // mirror since ensure_mirror looked), the mirror is made to match
      // what the batch's transaction sees, its own changes included;
      // bumping the sequences over that gap would hide it for good.
      if (rc == 0 && mirror_seq(m.get()) != store_seq(store_txn)) {
        size_t put = 0, gone = 0;
        rc = merge_into(store_txn, m.get(), put, gone);
        if (rc == 0) log_event("warn", "store_mirror_behind", {{"path", mirror_path}, {"written", std::to_string(put)},
                                                               {"deleted", std::to_string(gone)}});
      } else {
        for (const Pending* q : writes) {
          for (const SessionChange& c : q->sessions) {
            if (rc != 0) break;
            MDB_val k = mdb_val(c.sid);
            if (c.value) {
              MDB_val v = mdb_val(*c.value);
              rc = mdb_put(m.get(), mirror_dbi, &k, &v, 0);
            } else if ((rc = mdb_del(m.get(), mirror_dbi, &k, nullptr)) == MDB_NOTFOUND) {
              rc = 0;
            }
          }
        }
      }
      if (rc == 0) {
        // Both sides' sequence, in the two transactions about to commit.
        std::string next = std::to_string(store_seq(store_txn) + 1);
        MDB_val key = mdb_val(kSeqKey), v = mdb_val(next);
        rc = mdb_put(m.get(), mirror_state_dbi, &key, &v, 0);
        MDB_val skey = mdb_val(kStoreSeqKey);
        if (rc == 0) rc = mdb_put(store_txn, dbis[static_cast<int>(Db::kMeta)], &skey, &v, 0);
      }
      if (rc == 0) return 0;
      m.abort();
      // Pages pinned by dead readers (killed nginx workers) come free once
      // their slots are cleared: once more, as the store's revocations do.
      if (rc != MDB_MAP_FULL || attempt > 0) return rc;
      int dead = 0;
      mdb_reader_check(mirror.get(), &dead);
    }
  }

  static constexpr const char* kSeqKey = "seq";
  static constexpr const char* kStoreSeqKey = "mirror_seq";

  // The store's side of the sequence as `txn` sees it (0: none yet).
  uint64_t store_seq(MDB_txn* txn) const {
    MDB_val k = mdb_val(kStoreSeqKey), v;
    if (mdb_get(txn, dbis[static_cast<int>(Db::kMeta)], &k, &v) != 0) return 0;
    return std::strtoull(std::string(core::view(v)).c_str(), nullptr, 10);
  }
  // The mirror's side (0: none yet).
  uint64_t mirror_seq(MDB_txn* txn) const {
    MDB_val k = mdb_val(kSeqKey), v;
    if (mdb_get(txn, mirror_state_dbi, &k, &v) != 0) return 0;
    return std::strtoull(std::string(core::view(v)).c_str(), nullptr, 10);
  }

  // Before a batch: the mirror is current (this process saw no failure,
  // and both sequences agree), or it is synced now; a sync that fails
  // refuses the batch.
  Error ensure_mirror() { return sync_mirror(false); }

  // After the store's commit, the mirror's. Should it fail, the store holds
  // changes nginx does not see: the writes that made them are answered as
  // failed (as a connection lost after the commit would be; a retried
  // logout finds the session ended), and the next write first syncs the
  // mirror, refused while that fails, so no write is answered while nginx
  // may still accept what it ended.
  void commit_mirror(core::LmdbTxn& m, std::span<Pending* const> writes) {
    if (!m.get()) return;
    int rc = m.commit();
    if (rc == 0) return;
    Error err = mirror_failed(lmdb_failure("LMDB mirror commit", rc));
    for (Pending* q : writes)
      if (!q->sessions.empty()) q->result = err;
  }

  Error mirror_failed(Error err) {
    mirror_stale.store(true);
    if (!mirror_logged.exchange(true))
      log_event("error", "store_mirror_failed", {{"path", mirror_path}, {"reason", err.message}});
    return {Errc::kStoreUnwritable, "store_mirror_failed: " + err.message};
  }

  // Makes the mirror's transaction `m` hold exactly the sessions that the
  // store's transaction `source` sees (writes only what differs), and the
  // store's sequence. LMDB's code, or 0.
  int merge_into(MDB_txn* source, MDB_txn* m, size_t& put, size_t& gone_count) {
    MDB_dbi sessions = dbis[static_cast<int>(Db::kSessions)];
    std::vector<std::string> gone;
    int rc;
    {
      core::LmdbCursor c;  // every session of the store, where the mirror lacks it or differs
      rc = c.open(source, sessions);
      MDB_val k, v, mv;
      for (int op = MDB_FIRST; rc == 0; op = MDB_NEXT) {
        if ((rc = mdb_cursor_get(c.get(), &k, &v, static_cast<MDB_cursor_op>(op))) != 0) break;
        rc = mdb_get(m, mirror_dbi, &k, &mv);
        if (rc == MDB_NOTFOUND || (rc == 0 && core::view(mv) != core::view(v))) {
          rc = mdb_put(m, mirror_dbi, &k, &v, 0);
          ++put;
        }
      }
      if (rc == MDB_NOTFOUND) rc = 0;
    }
    if (rc == 0) {
      core::LmdbCursor c;  // then what the mirror holds and the store does not
      rc = c.open(m, mirror_dbi);
      MDB_val k, v, sv;
      for (int op = MDB_FIRST; rc == 0; op = MDB_NEXT) {
        if ((rc = mdb_cursor_get(c.get(), &k, &v, static_cast<MDB_cursor_op>(op))) != 0) break;
        rc = mdb_get(source, sessions, &k, &sv);
        if (rc == MDB_NOTFOUND) gone.emplace_back(core::view(k)), rc = 0;
      }
      if (rc == MDB_NOTFOUND) rc = 0;
    }
    for (const std::string& sid : gone) {
      MDB_val k = mdb_val(sid);
      if (rc == 0) rc = mdb_del(m, mirror_dbi, &k, nullptr);
    }
    gone_count = gone.size();
    if (rc == 0 && mirror_seq(m) != store_seq(source)) {
      std::string seq = std::to_string(store_seq(source));
      MDB_val k = mdb_val(kSeqKey), v = mdb_val(seq);
      rc = mdb_put(m, mirror_state_dbi, &k, &v, 0);
    }
    return rc;
  }

  // Makes the mirror hold exactly the store's sessions table: at every open
  // (a store restored while spa-authd was stopped, a mirror that missed a
  // commit before a crash), and before a batch when this process saw a
  // mirror commit fail or the two sequences differ (ensure_mirror). One
  // transaction, so readers see the old mirror or the new one, never half.
  // `force`: merge whatever the sequences say.
  Error sync_mirror(bool force = true) {
    core::LmdbTxn m, r;
    // The mirror's writer lock first (see stage_mirror): no store commit
    // that changes a session lands between the snapshot and this merge. A
    // write transaction also needs no reader slot, which nginx's user could
    // have taken all of in the mirror's lock file.
    int rc = m.begin(mirror.get(), 0);
    if (rc == 0) rc = r.begin(env.get(), MDB_RDONLY);
    if (rc == 0 && !force && !mirror_stale.load() && mirror_seq(m.get()) == store_seq(r.get())) return {};
    size_t put = 0, gone = 0;
    if (rc == 0) rc = merge_into(r.get(), m.get(), put, gone);
    r.abort();
    if (rc == 0) rc = m.commit();
    if (rc != 0) return mirror_failed(lmdb_failure("LMDB mirror sync", rc));
    if (put + gone > 0)
      log_event("info", "store_mirror_synced",
                {{"path", mirror_path}, {"written", std::to_string(put)}, {"deleted", std::to_string(gone)}});
    mirror_stale.store(false);
    if (mirror_logged.exchange(false)) log_event("info", "store_mirror_writable_again", {{"path", mirror_path}});
    return {};
  }

  // The store's or the mirror's data file is not the one open.
  bool data_file_replaced() const {
    struct stat fs, ms;
    return ::stat((path + "/data.mdb").c_str(), &fs) != 0 || fs.st_dev != data_dev || fs.st_ino != data_ino ||
           ::stat((mirror_path + "/data.mdb").c_str(), &ms) != 0 || ms.st_dev != mirror_dev || ms.st_ino != mirror_ino;
  }
};

LmdbStore::LmdbStore() = default;
LmdbStore::~LmdbStore() = default;

namespace {

bool exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

// A whole store (one with spa-authd's meta table), not a mirror.
bool holds_whole_store(MDB_env* env) {
  core::LmdbTxn txn;
  MDB_dbi dbi;
  return txn.begin(env, MDB_RDONLY) == 0 && mdb_dbi_open(txn.get(), db_name(Db::kMeta), 0, &dbi) == 0;
}

// The whole store at `from` (the mirror's place) into the directory `to`:
// copied (a new file, mode 0600 from the start), synced, and only then the
// old one unlinked. Not renamed: a process that holds the old file
// open (an nginx worker, anything of nginx's user) would go on reading
// everything written after the move through that same inode.
bool move_whole_store(const std::string& from, const std::string& to, size_t map_size, std::string& err) {
  // Copied under a name of its own, renamed into place only once whole and
  // synced: an interrupted move leaves the old store and a leftover, which
  // the next attempt replaces.
  const std::string moving = to + "/data.mdb.moving";
  ::unlink(moving.c_str());
  int fd = ::open(moving.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    err = "cannot create " + moving + ": " + std::strerror(errno);
    return false;
  }
  int rc;
  {
    core::LmdbEnv old;
    if (!old.open(from, MDB_RDONLY, kDbCount + 2, map_size, 0600, err)) {
      ::close(fd);
      ::unlink(moving.c_str());
      return false;
    }
    rc = mdb_env_copyfd2(old.get(), fd, MDB_CP_COMPACT);
  }
  bool ok = rc == 0 && ::fsync(fd) == 0;
  ::close(fd);
  if (ok) ok = ::rename(moving.c_str(), (to + "/data.mdb").c_str()) == 0;
  int dir = ok ? ::open(to.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
  ok = ok && dir >= 0 && ::fsync(dir) == 0;
  if (dir >= 0) ::close(dir);
  if (!ok) {
    err = "cannot copy the store " + from + "/data.mdb into " + to + ": " +
          (rc != 0 ? std::string(mdb_strerror(rc)) : std::string(std::strerror(errno)));
    ::unlink(moving.c_str());
    return false;
  }
  ::unlink((from + "/data.mdb").c_str());
  ::unlink((from + "/lock.mdb").c_str());
  return true;
}

// The private directory is the mirror's, or one above it, or the mirror is
// inside it, by other names (symlinks anywhere in either path, `..`): the
// store would be where nginx reads, or the mirror beyond nginx's reach.
// Both exist here; compared as the kernel resolves them.
bool same_or_above(const std::string& dir, const std::string& mirror, std::string& err) {
  char a[PATH_MAX], b[PATH_MAX];
  if (!::realpath(dir.c_str(), a) || !::realpath(mirror.c_str(), b)) return false;
  std::string own = a, read = b;
  if (own == read || read.compare(0, own.size() + 1, own + "/") == 0 || own == "/") {
    err = "store.private_path " + dir + " is " + (own == read ? "store.path " : "a directory above store.path ") +
          mirror + " (" + read + "): nginx's workers would read the store, or not reach the mirror";
    return true;
  }
  return false;
}

}  // namespace

bool LmdbStore::open(const std::string& path, std::string& err, uint64_t max_size, const std::string& private_dir) {
  env_.reset();
  auto e = std::make_unique<Env>();
  e->path = private_dir.empty() ? default_private_path(path) : private_dir;
  e->mirror_path = path;
  e->max_size = max_size;
  e->map_size = max_size + reserve_for(max_size);  // address space, not disk: the file grows as needed
  if (!make_dirs(path, 0750, err) || !make_dirs(e->path, 0700, err)) return false;
  if (same_or_above(e->path, path, err)) return false;
  // Only spa-authd's: nginx's workers are in its group, and may read the mirror alone.
  if (::chmod(e->path.c_str(), 0700) != 0) {
    err = e->path + ": cannot be made private (chmod 0700): " + std::strerror(errno);
    return false;
  }

  // The mirror first: what [store] path holds may be a whole store of a
  // spa-authd before the mirror, moved into the private directory (rename:
  // nginx's workers notice the new data file and reopen).
  std::string mirror_err;
  bool mirror_open = open_lmdb_env(e->mirror, path, 0640, 0660, e->map_size, 3, e->mirror_dev, e->mirror_ino, mirror_err);
  if (mirror_open && holds_whole_store(e->mirror.get())) {
    e->mirror.close();
    // One process moves it (the daemon and a CLI command may start together).
    int guard = ::open(e->path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (guard < 0 || ::flock(guard, LOCK_EX) != 0) {
      if (guard >= 0) ::close(guard);
      err = e->path + ": cannot lock for the store's move: " + std::strerror(errno);
      return false;
    }
    bool moved = true, here = false;
    bool still_whole = false;
    {
      core::LmdbEnv probe;
      std::string ignored;
      still_whole = probe.open(path, MDB_RDONLY, 3, e->map_size, 0640, ignored) && holds_whole_store(probe.get());
    }
    if (!still_whole) {
      // (another process moved it while this one waited)
    } else if (exists(e->path + "/data.mdb")) {
      err = path + " holds a whole store, and " + e->path + " another: spa-authd will not choose. See which " +
            "holds your accounts (mdb_stat -a on each), move the other away, and start again " +
            "(docs/install.md, \"Backups and restore\")";
      moved = false;
    } else {
      moved = here = move_whole_store(path, e->path, e->map_size, err);
    }
    ::close(guard);  // (the lock goes with it)
    if (!moved) return false;
    if (here) log_event("info", "store_moved", {{"from", path}, {"to", e->path}});
    mirror_open = open_lmdb_env(e->mirror, path, 0640, 0660, e->map_size, 3, e->mirror_dev, e->mirror_ino, mirror_err);
  }
  if (!mirror_open && exists(path + "/data.mdb") && exists(e->path + "/data.mdb")) {
    // A damaged mirror, next to the store it is made from: made afresh.
    log_event("warn", "store_mirror_recreated", {{"path", path}, {"reason", mirror_err}});
    e->mirror.close();
    ::unlink((path + "/data.mdb").c_str());
    ::unlink((path + "/lock.mdb").c_str());
    mirror_open = open_lmdb_env(e->mirror, path, 0640, 0660, e->map_size, 3, e->mirror_dev, e->mirror_ino, mirror_err);
  }
  if (!mirror_open) {
    err = mirror_err;
    return false;
  }

  if (!open_lmdb_env(e->env, e->path, 0600, 0600, e->map_size, kDbCount, e->data_dev, e->data_ino, err)) return false;
  // (a store moved here from [store] path was 0640)
  ::chmod((e->path + "/data.mdb").c_str(), 0600);
  // A store larger than max_size (the setting was lowered) still gets the
  // whole reserve beyond what it holds; the mirror, never larger than the
  // store's sessions, the same map.
  MDB_envinfo info;
  MDB_stat st;
  if (mdb_env_info(e->env.get(), &info) == 0 && mdb_env_stat(e->env.get(), &st) == 0) {
    uint64_t file = (static_cast<uint64_t>(info.me_last_pgno) + 1) * st.ms_psize;
    if (file + reserve_for(max_size) > e->map_size) {
      e->map_size = file + reserve_for(max_size);
      mdb_env_set_mapsize(e->env.get(), e->map_size);
      mdb_env_set_mapsize(e->mirror.get(), e->map_size);
    }
  }
  core::LmdbTxn txn;
  int rc = txn.begin(e->env.get(), 0);
  for (int i = 0; rc == 0 && i < kDbCount; ++i)
    rc = mdb_dbi_open(txn.get(), db_name(static_cast<Db>(i)), MDB_CREATE, &e->dbis[i]);
  if (rc != 0) {
    err = std::string("LMDB ") + e->path + ": " + mdb_strerror(rc);
    return false;
  }
  LmdbTxnView t(txn.get(), e->dbis, false);
  if (std::string why = prepare_schema(t, e->path); !why.empty()) {
    err = why;
    return false;
  }
  rc = txn.commit();
  if (rc != 0) {
    err = std::string("LMDB commit: ") + mdb_strerror(rc);
    return false;
  }
  core::LmdbTxn mtxn;
  rc = mtxn.begin(e->mirror.get(), 0);
  if (rc == 0) rc = mdb_dbi_open(mtxn.get(), core::kSessionsDb, MDB_CREATE, &e->mirror_dbi);
  if (rc == 0) rc = mdb_dbi_open(mtxn.get(), kMirrorStateDb, MDB_CREATE, &e->mirror_state_dbi);
  // This store is the mirror's whole source, on this machine: always
  // current. A confirmation left by a PostgreSQL run before (SessionMirror)
  // would have the module judge it stale.
  for (const char* key : {core::SessionReader::kConfirmedKey, core::SessionReader::kMaxStalenessKey}) {
    MDB_val k = mdb_val(key);
    if (rc == 0 && (rc = mdb_del(mtxn.get(), e->mirror_state_dbi, &k, nullptr)) == MDB_NOTFOUND) rc = 0;
  }
  if (rc == 0) rc = mtxn.commit();
  if (rc != 0) {
    err = std::string("LMDB ") + path + ": " + mdb_strerror(rc);
    return false;
  }
  if (Error synced = e->sync_mirror(); !synced.ok()) {
    err = path + ": " + synced.message;
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
  using core::metric_counter, core::metric_gauge;
  return metric_gauge("spa_authd_store_used_bytes", "Bytes the store's data takes (LMDB pages in use).", u.used_bytes) +
         metric_gauge("spa_authd_store_file_bytes", "The store file's size (its high-water mark).", u.file_bytes) +
         metric_gauge("spa_authd_store_max_bytes", "[store] max_size: past it, writes that grow the store are refused.",
               u.max_bytes) +
         metric_gauge("spa_authd_store_map_bytes", "The LMDB map: max_size and the reserve kept for revocations.",
               u.map_bytes) +
         metric_counter("spa_authd_store_commits_total", "Store transactions committed (each one synchronous write).",
                 env_ ? env_->commits.load() : 0) +
         metric_counter("spa_authd_store_writes_total",
                 "Writes committed; writes over commits is the group commit's batch size.",
                 env_ ? env_->writes.load() : 0) +
         metric_gauge("spa_authd_store_mirror_stale",
               "1 while the mirror nginx reads may lack a committed change (its write failed); writes are refused "
               "until it is synced.",
               env_ && env_->mirror_stale.load() ? 1 : 0);
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
  Pending p{&fn, kind, Error{}, nullptr, false, {}, {}};
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
