#include "authd/pg_store.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <exception>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>
#include <utility>

#include "authd/pg_handles.h"
#include "authd/server.h"
#include "authd/session_mirror.h"
#include "core/metrics_text.h"
#include "core/session_record.h"

namespace spa::authd {
namespace {

// --- the schema

// One entry per version; each runs in its own transaction with the
// version's row. Never edited once released: a change is a new entry.
struct Migration {
  int version;
  std::string sql;
};

std::string table_of(Db db) { return std::string("spa_") + db_name(db); }

std::vector<Migration> migrations() {
  std::string v1;
  for (int i = 0; i < kDbCount; ++i)
    v1 += "CREATE TABLE " + table_of(static_cast<Db>(i)) + " (k bytea PRIMARY KEY, v bytea NOT NULL);\n";
  // What changed a session, for every node's mirror (pg_store.h).
  v1 += "CREATE TABLE spa_session_changes (seq bigserial PRIMARY KEY, sid bytea NOT NULL,"
        " xid xid8 NOT NULL DEFAULT pg_current_xact_id(), at timestamptz NOT NULL DEFAULT now());\n"
        "CREATE INDEX spa_session_changes_xid ON spa_session_changes (xid);\n"
        "CREATE INDEX spa_session_changes_at ON spa_session_changes (at);\n"
        // epoch: this database's (a restore of another, or a new one, reads
        // everything again); horizon and passed_at: the last pruning pass's
        // snapshot horizon, and when it ran (prune()).
        "CREATE TABLE spa_feed_state (one boolean PRIMARY KEY DEFAULT true CHECK (one),"
        " epoch text NOT NULL DEFAULT gen_random_uuid()::text, horizon xid8 NOT NULL DEFAULT '0',"
        " passed_at timestamptz NOT NULL DEFAULT '-infinity');\n"
        "INSERT INTO spa_feed_state DEFAULT VALUES;\n";
  // v2: duties one node of all does at a time (Store::claim_duty).
  std::string v2 = "CREATE TABLE spa_duties (name text PRIMARY KEY, claimed_at timestamptz NOT NULL, claimed_by text NOT NULL);\n";
  // v3: the cluster's signing keys (authd/pg_keys.h), sealed; a version
  // bumped by every change, for the nodes to reload.
  std::string v3 = "CREATE TABLE spa_signing_keys (kid text PRIMARY KEY, alg text NOT NULL, active_from bigint NOT NULL,"
                   " retired_at bigint NOT NULL DEFAULT 0, sealed bytea NOT NULL);\n"
                   "CREATE TABLE spa_key_state (one boolean PRIMARY KEY DEFAULT true CHECK (one), version bigint NOT NULL DEFAULT 0);\n"
                   "INSERT INTO spa_key_state DEFAULT VALUES;\n";
  return {{1, v1}, {2, v2}, {3, v3}};
}

constexpr const char* kMigrationsTable =
    "CREATE TABLE IF NOT EXISTS spa_schema_migrations (version integer PRIMARY KEY,"
    " applied_at timestamptz NOT NULL DEFAULT now(), applied_by text NOT NULL)";
// pg_advisory_lock keys: one per duty that one node at a time does.
constexpr int64_t kMigrateLock = 0x5350410001;
constexpr int64_t kPruneLock = 0x5350410002;
// Pruning passes are at least this far apart; a pass deletes the change
// rows of transactions that had ended before the pass before it. A feed
// whose last good round is older than kFullAfter (well under the interval)
// reads everything: it may have missed rows since deleted.
constexpr const char* kPruneInterval = "10 minutes";
constexpr auto kFullAfter = std::chrono::minutes(5);

// The schema version the database is at: 0 when it has none, -1 (err) when it cannot say.
int database_version(PGconn* c, std::string& err) {
  pg::Result r = pg::exec(c, "SELECT to_regclass('spa_schema_migrations') IS NOT NULL");
  if (!pg::ok(r.get())) {
    err = pg::describe(c, r.get());
    return -1;
  }
  if (std::string_view(PQgetvalue(r.get(), 0, 0)) != "t") return 0;
  r = pg::exec(c, "SELECT coalesce(max(version), 0) FROM spa_schema_migrations");
  if (!pg::ok(r.get())) {
    err = pg::describe(c, r.get());
    return -1;
  }
  return std::atoi(PQgetvalue(r.get(), 0, 0));
}

// The statements every connection prepares, per table i: g<i> get, p<i>
// put, d<i> delete, s<i> scan from a key, b<i> scan from a key below a bound.
constexpr int kScanBatch = 256;

std::string statement(char kind, Db db) { return kind + std::to_string(static_cast<int>(db)); }

std::string prepare_sql() {
  std::string sql;
  for (int i = 0; i < kDbCount; ++i) {
    Db db = static_cast<Db>(i);
    std::string t = table_of(db), n = std::to_string(i), limit = std::to_string(kScanBatch);
    sql += "PREPARE g" + n + " (bytea) AS SELECT v FROM " + t + " WHERE k = $1;\n";
    sql += "PREPARE p" + n + " (bytea, bytea) AS INSERT INTO " + t +
           " (k, v) VALUES ($1, $2) ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v;\n";
    sql += "PREPARE d" + n + " (bytea) AS DELETE FROM " + t + " WHERE k = $1;\n";
    sql += "PREPARE s" + n + " (bytea) AS SELECT k, v FROM " + t + " WHERE k >= $1 ORDER BY k LIMIT " + limit + ";\n";
    sql += "PREPARE b" + n + " (bytea, bytea) AS SELECT k, v FROM " + t + " WHERE k >= $1 AND k < $2 ORDER BY k LIMIT " +
           limit + ";\n";
  }
  sql += "PREPARE chg (bytea) AS INSERT INTO spa_session_changes (sid) VALUES ($1);\n";
  return sql;
}

// The smallest key above every key that starts with `prefix` ("" when
// there is none: a prefix of 0xff bytes alone).
std::string prefix_end(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty() && static_cast<uint8_t>(end.back()) == 0xff) end.pop_back();
  if (!end.empty()) end.back() = static_cast<char>(static_cast<uint8_t>(end.back()) + 1);
  return end;
}

// Failures that say PostgreSQL cannot be used for now (gone, shutting
// down, a standby after a failover, out of resources, a statement that
// timed out), rather than that this request is wrong: 503.
bool unavailable_state(const std::string& s) {
  return s.rfind("08", 0) == 0 || s.rfind("53", 0) == 0 || s.rfind("57", 0) == 0 || s == "25006" || s == "40003";
}
bool retry_state(const std::string& s) { return s == "40001" || s == "40P01"; }

std::string host_name() {
  char name[256] = {};
  return ::gethostname(name, sizeof name - 1) == 0 ? name : "?";
}

int64_t wall_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// A Store::Txn over one PostgreSQL transaction on one connection.
//
// Writes are queued, not sent: what a write answers (nothing but success)
// is needed only at the transaction's end. They go with the next read, in
// one pipeline ahead of it (so it sees them), or with the commit; a
// transaction of several reads and writes costs a round trip per read and
// one for everything else. A queued write that fails is this
// transaction's failure from then on, as if it had failed when made.
class PgTxn final : public Store::Txn {
 public:
  // `begin`: the BEGIN statement, sent with the first statement (null:
  // the caller began the transaction).
  //
  // `now`, `lazy_margin`: a session write that only moves the session's end
  // later, from an end more than lazy_margin seconds past now, is one the
  // mirror may learn at the feed's next round (see urgent()).
  PgTxn(PGconn* c, bool over_limit, const char* begin, int64_t now = 0, int64_t lazy_margin = -1)
      : Txn(over_limit), c_(c), now_(now), lazy_margin_(lazy_margin) {
    if (begin) pending_.push_back(pg::sql(begin));
    else sent_ = true;
  }
  using Txn::take_after_commit;
  // The connection was found dead by the first round trip, the BEGIN's,
  // and that one did not carry the COMMIT: nothing ran, and the whole
  // transaction may be tried on another.
  bool died_at_begin() const { return died_at_begin_; }
  bool retryable() const { return retry_; }
  bool broken() const { return broken_; }
  // A session changed in a way this node's nginx must see before the
  // write is answered, and every node's soon (NOTIFY).
  bool changed_sessions() const { return changed_sessions_; }
  // Only sessions whose end moved later changed: none waited for.
  bool deferred_only() const { return deferred_ && !changed_sessions_; }

  // A failed statement's error, kept as this transaction's.
  bool failed(const PGresult* r) const {
    std::string state = pg::sqlstate(r);
    if (retry_state(state)) retry_ = true;
    bool gone = PQstatus(c_) == CONNECTION_BAD || unavailable_state(state);
    if (gone) broken_ = true;
    return fail(gone ? Errc::kStoreUnavailable : Errc::kStoreFailed, pg::describe(c_, r));
  }

  // The queued writes, NOTIFY (when a session changed) and COMMIT, in one
  // round trip. False with error() set when any failed (a serialization
  // failure found at commit included).
  //
  // The NOTIFY runs after the COMMIT, in its own transaction: inside the
  // writing one, PostgreSQL holds the notification queue's lock from
  // before the commit's WAL flush to its end, so every notifying commit
  // of the cluster would wait for the one before it. Sent after, it cannot
  // wake a feed before the change is visible; lost (the connection gone
  // between the two), the other nodes' feeds find the change at their
  // next round, within kHeartbeatMs.
  //
  // A transaction that read nothing sends its BEGIN and writes first, on
  // their own: a connection found dead then (a restart) ran nothing, and
  // the write is tried again on another; found dead with the COMMIT, it
  // may have landed.
  bool commit() {
    if (!sent_ && !flush(nullptr)) return false;
    committing_ = true;
    pending_.push_back(pg::sql("COMMIT"));
    if (!changed_sessions_) return flush(nullptr);
    pending_.push_back(pg::sql("NOTIFY spa_sessions"));
    return flush(nullptr, 1);
  }

 protected:
  std::optional<std::string> load(Db db, std::string_view key) const override {
    pg::Result r = read(pg::prepared(statement('g', db)).add(key));
    if (!r) return std::nullopt;
    std::optional<std::string> v;
    if (PQntuples(r.get()) > 0) v = std::string(pg::field(r.get(), 0, 0));
    // (the value committed before this transaction: read before it wrote)
    if (db == Db::kSessions && !written_.contains(key)) committed_.try_emplace(std::string(key), v);
    return v;
  }

  bool save(Db db, std::string_view key, std::string_view value) override {
    return queue(pg::prepared(statement('p', db)).add(key).add(value)) &&
           (db != Db::kSessions || changed(key, urgent(key, value)));
  }

  bool remove(Db db, std::string_view key) override {
    return queue(pg::prepared(statement('d', db)).add(key)) && (db != Db::kSessions || changed(key, true));
  }

  bool each(Db db, std::string_view from, std::string_view prefix, const Visit& fn) const override {
    std::string at(from), end = prefix_end(prefix);
    for (;;) {
      pg::Statement q = pg::prepared(statement(end.empty() ? 's' : 'b', db)).add(at);
      if (!end.empty()) q.add(end);
      pg::Result r = read(std::move(q));
      if (!r) return false;
      int n = PQntuples(r.get());
      for (int i = 0; i < n; ++i) {
        std::string_view key = pg::field(r.get(), i, 0);
        if (key.substr(0, prefix.size()) != prefix || !fn(key, pg::field(r.get(), i, 1))) return true;
      }
      if (n < kScanBatch) return true;
      at = std::string(pg::field(r.get(), n - 1, 0)) + '\0';  // the next key after the batch's last
    }
  }

 private:
  // A queue of at most this many statements or bytes: sent on the next
  // write past it (an import writes millions with no read between).
  static constexpr size_t kMaxQueued = 256, kMaxQueuedBytes = size_t{1} << 20;

  // Every session write is a change row, which the feeds of every node
  // read at their next round (within kHeartbeatMs). An urgent one is also
  // waited for on this node and notified to the others.
  bool changed(std::string_view sid, bool urgent) {
    written_.emplace(sid);
    if (urgent) changed_sessions_ = true;
    else deferred_ = true;
    return queue(pg::prepared("chg").add(sid));
  }

  // Whether writing `value` over the session's committed value must reach
  // the mirror before the answer. Not when it only moves the session's end
  // later (a refresh rotation) and the end the mirrors hold is more than
  // lazy_margin_ away: until the next round they hold a session identical
  // but for an earlier end, stricter and still valid, and a later urgent
  // write's round reads the current value whole. Anything else is urgent:
  // a new or ended session, a state, floor or owner changed, a value not
  // read first or not understood.
  bool urgent(std::string_view sid, std::string_view value) const {
    if (lazy_margin_ < 0 || written_.contains(sid)) return true;
    auto was = committed_.find(sid);
    if (was == committed_.end() || !was->second) return true;
    auto old_rec = core::SessionRecord::decode(*was->second), new_rec = core::SessionRecord::decode(value);
    if (!old_rec || !new_rec || old_rec->state != core::SessionState::kActive) return true;
    core::SessionRecord moved = *old_rec;
    moved.expires_at = new_rec->expires_at;
    // (the same value again is urgent too: a revocation retried, or
    // floored anew, is answered once this node's nginx refuses)
    return moved.encode() != value || new_rec->expires_at <= old_rec->expires_at ||
           old_rec->expires_at <= now_ + lazy_margin_;
  }

  bool queue(pg::Statement s) {
    if (!error().ok()) return false;  // (PostgreSQL refuses every statement after a failed one)
    for (const auto& v : s.values) queued_bytes_ += v.size();
    pending_.push_back(std::move(s));
    return pending_.size() < kMaxQueued && queued_bytes_ < kMaxQueuedBytes ? true : flush(nullptr);
  }

  // The queued writes and then q, in one round trip: q's result, or null
  // with error() set.
  pg::Result read(pg::Statement q) const {
    if (!error().ok()) return nullptr;
    pending_.push_back(std::move(q));
    pg::Result r;
    return flush(&r) ? std::move(r) : nullptr;
  }

  // Sends what is queued; the last statement's result into *last. False
  // (error() set by the first failure) when any statement failed but the
  // last `lenient` ones (whose failure is not the transaction's).
  bool flush(pg::Result* last, size_t lenient = 0) const {
    if (pending_.empty()) return error().ok();
    std::vector<pg::Statement> batch = std::move(pending_);
    pending_.clear();
    queued_bytes_ = 0;
    if (!error().ok()) return false;
    std::vector<pg::Result> results = pg::pipeline(c_, batch);
    bool first = !sent_;
    sent_ = true;
    for (size_t i = 0; i + lenient < batch.size(); ++i) {
      const PGresult* r = i < results.size() ? results[i].get() : nullptr;
      if (!pg::ok(r)) {
        // (a batch with the COMMIT may have landed: never run again)
        died_at_begin_ = first && !committing_ && PQstatus(c_) == CONNECTION_BAD;
        return failed(r);
      }
    }
    if (last && results.size() == batch.size()) *last = std::move(results.back());
    return true;
  }

  PGconn* c_;
  mutable std::vector<pg::Statement> pending_;
  mutable size_t queued_bytes_ = 0;
  mutable bool retry_ = false, broken_ = false, sent_ = false, died_at_begin_ = false, committing_ = false;
  bool changed_sessions_ = false, deferred_ = false;
  int64_t now_, lazy_margin_;
  // Sessions read before this transaction wrote them: their committed
  // values (nullopt: none). And the sessions it wrote.
  mutable std::map<std::string, std::optional<std::string>, std::less<>> committed_;
  std::set<std::string, std::less<>> written_;
};

}  // namespace

struct PgStore::Impl {
  Options o;

  // --- the connection pool
  std::mutex pool_mu;
  std::condition_variable pool_cv;
  std::vector<pg::Conn> idle;
  size_t open_conns = 0;
  std::chrono::steady_clock::time_point down_until{};  // after a failed connect, fail fast for a moment
  std::string down_reason;
  std::atomic<bool> down_logged{false};

  std::atomic<uint64_t> commits{0}, retries{0}, failures{0};

  // --- the size, measured at most every few seconds
  mutable std::mutex usage_mu;
  mutable Usage usage_cache;
  mutable std::chrono::steady_clock::time_point usage_at{};
  mutable bool measuring = false;
  mutable std::atomic<bool> warned{false};

  // --- the mirror and its feed
  std::unique_ptr<SessionMirror> mirror;
  std::thread feed;
  int wake_fd = -1;  // eventfd: a writer wants a round now, or the store stops
  std::mutex feed_mu;
  std::condition_variable feed_cv;
  uint64_t requested = 0, completed = 0;
  bool stopping = false;
  std::atomic<int64_t> confirmed_ms{0};
  std::atomic<uint64_t> rounds{0}, full_rounds{0}, feed_failures{0}, waits{0}, deferred{0};
  std::atomic<bool> stale_logged{false};

  ~Impl() {
    if (feed.joinable()) {
      {
        std::lock_guard lock(feed_mu);
        stopping = true;
      }
      wake();
      feed.join();
    }
    if (wake_fd >= 0) ::close(wake_fd);
  }

  void wake() const {
    uint64_t one = 1;
    if (wake_fd >= 0 && ::write(wake_fd, &one, sizeof one) < 0) {
      // (the counter is full: the feed is awake anyway)
    }
  }

  // A connection with our statements prepared, or nullptr (`err` why).
  pg::Conn connect(std::string& err) const {
    pg::Conn c = pg::connect(o.conninfo, o.password, err);
    if (!c) return nullptr;
    // Set here, not as connection options, so that a connection string's
    // own `options` cannot drop them: no statement, no transaction left
    // open, holds a request (or the feed) for long.
    //
    // enable_seqscan off: every statement of the store reads by primary
    // key (a key, a range of keys) and must take the index. A sequential
    // scan, which the planner prefers for a table of a few pages (a new
    // installation), takes a SERIALIZABLE predicate lock on the whole
    // table, and then every two writers of that table at once conflict:
    // measured, more retries than commits (PostgreSQL's documentation,
    // "Serializable Isolation Level", says as much). jit off: the cost a
    // disabled plan carries would make PostgreSQL compile even a one-row
    // statement (measured: 60 ms for the feed's, against 0.05).
    pg::Result r = pg::exec(c.get(), "SET statement_timeout = 5000; SET idle_in_transaction_session_timeout = 10000;"
                                     " SET lock_timeout = 5000; SET enable_seqscan = off; SET jit = off");
    if (!pg::ok(r.get())) {
      err = "session settings: " + pg::describe(c.get(), r.get());
      return nullptr;
    }
    r = pg::exec(c.get(), prepare_sql().c_str());
    if (!pg::ok(r.get())) {
      err = "preparing statements: " + pg::describe(c.get(), r.get());
      return nullptr;
    }
    return c;
  }

  pg::Conn acquire(Error& err) {
    std::unique_lock lock(pool_mu);
    for (;;) {
      if (!idle.empty()) {
        pg::Conn c = std::move(idle.back());
        idle.pop_back();
        return c;
      }
      if (std::chrono::steady_clock::now() < down_until) {
        err = {Errc::kStoreUnavailable, "store_unavailable: " + down_reason};
        return nullptr;
      }
      if (open_conns < o.connections) break;
      if (pool_cv.wait_for(lock, std::chrono::seconds(5)) == std::cv_status::timeout && idle.empty() &&
          open_conns >= o.connections) {
        err = {Errc::kStoreUnavailable, "store_unavailable: every connection to PostgreSQL busy for 5 s"};
        return nullptr;
      }
    }
    ++open_conns;
    lock.unlock();
    std::string why;
    pg::Conn c = connect(why);
    lock.lock();
    if (!c) {
      --open_conns;
      down_until = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
      down_reason = why;
      pool_cv.notify_all();
      lock.unlock();
      if (!down_logged.exchange(true)) log_event("error", "store_unavailable", {{"reason", why}});
      err = {Errc::kStoreUnavailable, "store_unavailable: " + why};
      return nullptr;
    }
    return c;
  }

  // Back to the pool if it is idle and healthy; closed otherwise, and when
  // `broken` (PostgreSQL said it cannot serve for now: a standby after a
  // failover, a shutdown, no resources), so the next one is made afresh.
  void release(pg::Conn c, bool broken = false) {
    bool keep = c && !broken && PQstatus(c.get()) == CONNECTION_OK && PQtransactionStatus(c.get()) == PQTRANS_IDLE &&
                PQpipelineStatus(c.get()) == PQ_PIPELINE_OFF;
    std::lock_guard lock(pool_mu);
    if (keep) {
      idle.push_back(std::move(c));
    } else {
      --open_conns;
      c.reset();
    }
    pool_cv.notify_one();
  }

  // Closes every idle connection (the server closed them: a restart).
  void drop_idle() {
    std::lock_guard lock(pool_mu);
    drop_idle_locked();
  }
  void drop_idle_locked() {
    open_conns -= idle.size();
    idle.clear();
  }

  // BEGINs `sql` on c; on failure c goes back to the pool (closed if it
  // is dead), and `retry` says whether it was a pooled connection the
  // server closed (a restart): then every idle one is closed too, and the
  // caller takes a fresh one, once.
  Error begin(pg::Conn& c, const char* sql, bool& retry) {
    PGconn* conn = c.get();
    pg::Result r = pg::exec(conn, sql);
    retry = false;
    if (pg::ok(r.get())) return {};
    bool dead = PQstatus(conn) == CONNECTION_BAD;
    Error e{dead ? Errc::kStoreUnavailable : Errc::kStoreFailed, pg::describe(conn, r.get())};
    release(std::move(c));
    if (dead) {
      std::lock_guard lock(pool_mu);
      drop_idle_locked();
      retry = true;
    }
    return e;
  }

  // Ends whatever transaction the connection is in (nothing kept).
  static void rollback(PGconn* c) {
    if (PQtransactionStatus(c) != PQTRANS_IDLE) pg::exec(c, "ROLLBACK");
  }

  uint64_t measure(PGconn* c) const {
    std::string sql = "SELECT (0";
    for (int i = 0; i < kDbCount; ++i) sql += " + pg_total_relation_size('" + table_of(static_cast<Db>(i)) + "')";
    sql += " + pg_total_relation_size('spa_session_changes'))::text";
    pg::Result r = pg::exec(c, sql.c_str());
    return pg::ok(r.get()) ? std::strtoull(PQgetvalue(r.get(), 0, 0), nullptr, 10) : 0;
  }

  // The store's size as of at most 5 s ago: measured on `c` (outside any
  // transaction; one caller at a time) when older.
  Usage usage_on(PGconn* c) const {
    auto now = std::chrono::steady_clock::now();
    bool measure_now = false;
    {
      std::lock_guard lock(usage_mu);
      if (c && !measuring && now - usage_at > std::chrono::seconds(5)) measuring = measure_now = true;
    }
    if (measure_now) {
      uint64_t used = measure(c);
      std::lock_guard lock(usage_mu);
      if (used > 0) usage_cache.used_bytes = usage_cache.file_bytes = used;
      usage_at = now;
      measuring = false;
    }
    std::lock_guard lock(usage_mu);
    Usage u = usage_cache;
    u.max_bytes = u.map_bytes = o.max_size;
    return u;
  }

  // --- the feed

  // Asks for a round begun after this call and waits for it, at most a
  // second; false when none came (the write it follows is committed
  // whatever happens here, but this node's nginx may not see it yet).
  bool await_round() {
    if (!mirror) return true;
    std::unique_lock lock(feed_mu);
    uint64_t want = ++requested;
    wake();
    if (feed_cv.wait_for(lock, std::chrono::seconds(1), [&] { return completed >= want || stopping; })) {
      waits.fetch_add(1, std::memory_order_relaxed);
      return true;
    }
    lock.unlock();
    if (!behind_logged.exchange(true))
      log_event("error", "store_mirror_behind", {{"path", mirror->path()}, {"waited_ms", "1000"}});
    return false;
  }
  std::atomic<bool> behind_logged{false};

  // The feed's statements: the snapshot's horizon, the database's epoch
  // and the change sequence's last value (text); the changes since a
  // round (seq above $1, or of a transaction at or past the horizon $2).
  static constexpr const char* kFeedStatus =
      "SELECT pg_snapshot_xmin(pg_current_snapshot())::text, (SELECT epoch FROM spa_feed_state)::text,"
      " coalesce(pg_sequence_last_value('spa_session_changes_seq_seq'), 0)::text";
  static constexpr const char* kFeedChanges =
      "SELECT c.seq::text, c.sid, s.v FROM spa_session_changes c LEFT JOIN spa_sessions s"
      " ON s.k = c.sid WHERE c.seq > $1::bigint OR c.xid >= $2::xid8 ORDER BY c.seq";
  bool set_up_feed(pg::Conn& c, std::string& err) const {
    c = connect(err);
    if (!c) return false;
    // (its statements planned once, by index as every connection's: a
    // sequential scan of the change table would read all of it, every
    // round; a full round reads the sessions table with its own SET LOCAL)
    pg::Result r = pg::exec(c.get(), (std::string("LISTEN spa_sessions; PREPARE feed_status AS ") + kFeedStatus +
                                      "; PREPARE feed_changes (bigint, xid8) AS " + kFeedChanges)
                                         .c_str());
    if (!pg::ok(r.get())) {
      err = pg::describe(c.get(), r.get());
      c.reset();
      return false;
    }
    return true;
  }

  // One round in one snapshot: every session changed since the last
  // round (or, `full`, every session), applied to the mirror with the
  // round's confirmation. False when PostgreSQL or the mirror failed.
  // Reads everything also when the database is another than the last
  // round's (its epoch), its change sequence went back (a restore), or the
  // last good round is older than kFullAfter (rows since pruned).
  uint64_t cursor = 0;
  std::string prev_xmin = "0", epoch;
  std::chrono::steady_clock::time_point last_good{};
  bool round(PGconn* c, bool full, bool own, std::string& err) {
    int64_t began = wall_ms();
    auto steady = std::chrono::steady_clock::now();
    auto failed = [&](const PGresult* r) {
      err = pg::describe(c, r);
      rollback(c);
      return false;
    };
    // The snapshot's horizon, the database's epoch and sequence, and the
    // changes since the last round, in one round trip with the COMMIT. (A
    // round known to read everything reads it in the same snapshot; one
    // that finds it must, from the epoch or the sequence, starts again as
    // a full round.)
    full = full || epoch.empty() || steady - last_good > kFullAfter;
    // (`own`: on the feed's connection, where they are prepared; open's
    // first round, on a pooled one, sends them whole)
    std::vector<pg::Statement> batch = {pg::sql("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"),
                                        own ? pg::prepared("feed_status") : pg::sql(kFeedStatus)};
    batch.back().result_format = 0;  // (text: read with PQgetvalue)
    if (!full)
      batch.push_back((own ? pg::prepared("feed_changes") : pg::sql(kFeedChanges))
                          .text(std::to_string(cursor))
                          .text(prev_xmin));
    if (!full) batch.push_back(pg::sql("COMMIT"));
    std::vector<pg::Result> answers = pg::pipeline(c, batch);
    for (size_t i = 0; i < batch.size(); ++i)
      if (i >= answers.size() || !pg::ok(answers[i].get())) return failed(i < answers.size() ? answers[i].get() : nullptr);
    pg::Result status = std::move(answers[1]), r = full ? nullptr : std::move(answers[2]);
    if (PQntuples(status.get()) != 1) return failed(status.get());
    std::string xmin = PQgetvalue(status.get(), 0, 0), db_epoch = PQgetvalue(status.get(), 0, 1);
    uint64_t last_seq = std::strtoull(PQgetvalue(status.get(), 0, 2), nullptr, 10);
    if (!full && (db_epoch != epoch || last_seq < cursor)) return round(c, true, own, err);
    std::string why;
    if (full) {
      r = pg::exec(c, "SET LOCAL enable_seqscan = on");
      if (pg::ok(r.get())) r = pg::Params().run(c, "SELECT k, v FROM spa_sessions");  // (PQexecParams: results in binary)
      if (!pg::ok(r.get())) return failed(r.get());
      std::vector<std::pair<std::string, std::string>> all;
      int n = PQntuples(r.get());
      all.reserve(static_cast<size_t>(n));
      for (int i = 0; i < n; ++i) all.emplace_back(pg::field(r.get(), i, 0), pg::field(r.get(), i, 1));
      r.reset();
      pg::exec(c, "COMMIT");
      size_t written = 0, deleted = 0;
      why = mirror->replace_all(all, began, o.max_staleness, written, deleted);
      if (why.empty() && written + deleted > 0)
        log_event("info", "store_mirror_synced", {{"path", mirror->path()}, {"written", std::to_string(written)},
                                                  {"deleted", std::to_string(deleted)}});
      // Every row up to the sequence's last value is in this snapshot, or
      // of a transaction still open (its xid at or past xmin: read again).
      if (why.empty()) cursor = last_seq;
      full_rounds.fetch_add(1, std::memory_order_relaxed);
    } else {
      std::vector<SessionMirror::Change> changes;
      uint64_t seen = cursor;
      int n = PQntuples(r.get());
      for (int i = 0; i < n; ++i) {
        seen = std::max<uint64_t>(seen, std::strtoull(std::string(pg::field(r.get(), i, 0)).c_str(), nullptr, 10));
        std::optional<std::string> value;
        if (!PQgetisnull(r.get(), i, 2)) value = std::string(pg::field(r.get(), i, 2));
        changes.emplace_back(std::string(pg::field(r.get(), i, 1)), std::move(value));
      }
      r.reset();
      why = mirror->apply(changes, began, o.max_staleness);
      if (why.empty()) cursor = seen;
    }
    if (!why.empty()) {
      // The mirror could not be written: what the module reads goes
      // unconfirmed, and fails closed once max_staleness passes.
      err = why;
      return false;
    }
    prev_xmin = xmin;
    epoch = db_epoch;
    last_good = steady;
    confirmed_ms.store(began);
    rounds.fetch_add(1, std::memory_order_relaxed);
    return true;
  }

  // A pruning pass, by one node at a time and at most every
  // kPruneInterval: deletes the change rows of transactions that had ended
  // before the previous pass (their xid below its snapshot horizon), so a
  // row goes only once every feed with a good round since has read it.
  void prune(PGconn* c) {
    pg::Result r = pg::exec(c, "BEGIN");
    if (pg::ok(r.get()))
      r = pg::exec(c, ("SELECT pg_try_advisory_xact_lock(" + std::to_string(kPruneLock) + ")").c_str());
    if (pg::ok(r.get()) && std::string_view(PQgetvalue(r.get(), 0, 0)) == "t")
      r = pg::exec(c, (std::string("WITH st AS (SELECT horizon FROM spa_feed_state WHERE passed_at < now() - interval '") +
                       kPruneInterval + "' FOR UPDATE), "
                       "d AS (DELETE FROM spa_session_changes c USING st WHERE c.xid < st.horizon) "
                       "UPDATE spa_feed_state SET horizon = pg_snapshot_xmin(pg_current_snapshot()), passed_at = now()"
                       " WHERE EXISTS (SELECT 1 FROM st)")
                          .c_str());
    if (pg::ok(r.get())) r = pg::exec(c, "COMMIT");
    rollback(c);
  }

  // Waits up to ms for a notification, a writer's request or the stop;
  // false when the connection broke.
  bool wait_event(PGconn* c, int ms) {
    {
      std::lock_guard lock(feed_mu);
      if (stopping || requested > completed) return true;
    }
    pollfd fds[2] = {{PQsocket(c), POLLIN, 0}, {wake_fd, POLLIN, 0}};
    int n = ::poll(fds, 2, ms);
    if (n > 0 && (fds[1].revents & POLLIN)) {
      uint64_t count;
      if (::read(wake_fd, &count, sizeof count) < 0) {
        // (nothing to read: another wake took it)
      }
    }
    if (n > 0 && (fds[0].revents & (POLLIN | POLLERR | POLLHUP))) {
      if (!PQconsumeInput(c)) return false;
      while (PGnotify* note = PQnotifies(c)) PQfreemem(note);
    }
    return PQstatus(c) == CONNECTION_OK;
  }

  // The mirror's confirmation, said in the log when it goes past
  // max_staleness (nginx now fails closed) and when it comes back.
  void watch_staleness() {
    int64_t age = wall_ms() - confirmed_ms.load();
    if (age > o.max_staleness * 1000) {
      if (!stale_logged.exchange(true))
        log_event("error", "store_mirror_unconfirmed",
                  {{"path", mirror->path()}, {"max_staleness", std::to_string(o.max_staleness)},
                   {"action", "nginx refuses sessions until the store is reachable again"}});
    } else if (stale_logged.exchange(false)) {
      log_event("info", "store_mirror_confirmed_again", {{"path", mirror->path()}});
    }
  }

  // Sleeps up to `ms`, or until the store stops.
  void pause(int ms) {
    std::unique_lock lock(feed_mu);
    feed_cv.wait_for(lock, std::chrono::milliseconds(ms), [&] { return stopping; });
  }

  void run_feed() {
    pg::Conn c;
    bool need_full = false;  // (open's round read everything; a reconnect reads it all again)
    bool connected = false;
    int failures = 0;
    auto last_prune = std::chrono::steady_clock::now();
    std::string err, last_err;
    // A failure: said once per reason, the connection dropped, then a
    // pause that grows (250 ms to 5 s) so that one node in trouble does
    // not hammer the database.
    auto failed = [&] {
      feed_failures.fetch_add(1, std::memory_order_relaxed);
      if (err != last_err) log_event("error", "store_feed_failed", {{"reason", err}});
      last_err = err;
      c.reset();
      watch_staleness();
      pause(std::min(5000, PgStore::kHeartbeatMs << std::min(failures++, 5)));
    };
    for (;;) {
      uint64_t serving;
      {
        std::lock_guard lock(feed_mu);
        if (stopping) return;
        serving = requested;
      }
      try {
        if (!c && std::exchange(connected, true)) need_full = true;  // a reconnect: whatever was missed
        if (!c && !set_up_feed(c, err)) {
          failed();
          continue;
        }
        if (!round(c.get(), need_full, true, err)) {
          failed();
          continue;
        }
      } catch (const std::exception& e) {  // (an allocation for a huge table): the thread must go on
        err = std::string("feed: ") + e.what();
        failed();
        continue;
      }
      if (!last_err.empty()) log_event("info", "store_feed_resumed", {});
      last_err.clear();
      failures = 0;
      need_full = false;
      {
        std::lock_guard lock(feed_mu);
        completed = std::max(completed, serving);
      }
      feed_cv.notify_all();
      behind_logged.store(false);
      watch_staleness();
      if (std::chrono::steady_clock::now() - last_prune > std::chrono::seconds(60)) {
        prune(c.get());
        last_prune = std::chrono::steady_clock::now();
      }
      // Notifications read with the round's results: a change committed
      // meanwhile, so another round at once.
      bool noted = false;
      while (PGnotify* note = PQnotifies(c.get())) PQfreemem(note), noted = true;
      if (noted) continue;
      if (!wait_event(c.get(), kHeartbeatMs)) {
        err = pg::describe(c.get(), nullptr);
        failed();
      }
    }
  }
};

PgStore::PgStore() = default;
PgStore::~PgStore() = default;

int PgStore::schema_version() { return migrations().back().version; }

bool PgStore::migrate(const Options& options, std::string& report, std::string& err) {
  pg::Conn c = pg::connect(options.conninfo, options.password, err);
  if (!c) return false;
  PGconn* conn = c.get();
  auto failed = [&](const PGresult* r, const std::string& what) {
    err = what + ": " + pg::describe(conn, r);
    return false;
  };
  pg::Result r = pg::exec(conn, ("SELECT pg_advisory_lock(" + std::to_string(kMigrateLock) + ")").c_str());
  if (!pg::ok(r.get())) return failed(r.get(), "taking the migration lock");
  r = pg::exec(conn, kMigrationsTable);
  if (!pg::ok(r.get())) return failed(r.get(), "creating spa_schema_migrations");
  int at = database_version(conn, err);
  if (at < 0) return false;
  if (at > schema_version()) {
    err = "the database's schema is at version " + std::to_string(at) + ", newer than this spa-authd's (" +
          std::to_string(schema_version()) + "): upgrade spa-authd; nothing was changed";
    return false;
  }
  int applied = 0;
  for (const Migration& m : migrations()) {
    if (m.version <= at) continue;
    r = pg::exec(conn, "BEGIN");
    if (pg::ok(r.get())) r = pg::exec(conn, m.sql.c_str());
    if (pg::ok(r.get()))
      r = pg::Params()
              .text(std::to_string(m.version))
              .text("spa-authd " + host_name())
              .run(conn, "INSERT INTO spa_schema_migrations (version, applied_by) VALUES ($1::integer, $2)", 0);
    if (pg::ok(r.get())) r = pg::exec(conn, "COMMIT");
    if (!pg::ok(r.get())) {
      std::string why = pg::describe(conn, r.get());
      pg::exec(conn, "ROLLBACK");
      err = "migration to version " + std::to_string(m.version) + " failed (rolled back): " + why;
      return false;
    }
    ++applied;
  }
  report = applied == 0 ? "schema already at version " + std::to_string(schema_version()) + "; nothing to do"
                        : "schema at version " + std::to_string(schema_version()) + " (" + std::to_string(applied) +
                              (applied == 1 ? " migration" : " migrations") + " applied)";
  return true;
}

bool PgStore::open(const Options& options, std::string& err) {
  impl_.reset();
  if (std::string why = pg::check_conninfo(options.conninfo); !why.empty()) {
    err = "store.postgresql " + why;
    return false;
  }
  auto impl = std::make_unique<Impl>();
  impl->o = options;
  {
    pg::Conn c = pg::connect(options.conninfo, options.password, err);
    if (!c) return false;
    int at = database_version(c.get(), err);
    if (at < 0) return false;
    if (at < schema_version()) {
      err = (at == 0 ? std::string("the database has no spa-auth schema")
                     : "the database's schema is at version " + std::to_string(at)) +
            ", this spa-authd needs version " + std::to_string(schema_version()) +
            ": run `spa-authd db migrate --config FILE` (docs/scale-out.md)";
      return false;
    }
    if (at > schema_version()) {
      err = "the database's schema is at version " + std::to_string(at) + ", newer than this spa-authd's (" +
            std::to_string(schema_version()) + "): upgrade spa-authd";
      return false;
    }
  }
  impl_ = std::move(impl);
  std::string why;
  Error e = run_write([&](Txn& t) {
    why = prepare_schema(t, "postgresql");
    return why.empty() ? TxnEnd::kCommit : TxnEnd::kAbort;
  }, WriteKind::kRevocation);
  if (!why.empty() || !e.ok()) {
    err = why.empty() ? e.message : why;
    impl_.reset();
    return false;
  }
  if (!options.mirror_path.empty()) {
    Impl& i = *impl_;
    i.mirror = std::make_unique<SessionMirror>();
    if (!i.mirror->open(options.mirror_path, options.max_size + (options.max_size / 4), err)) {
      impl_.reset();
      return false;
    }
    // The first round, here: the mirror is whole before nginx is told to trust it.
    pg::Conn c = i.connect(err);
    if (!c || !i.round(c.get(), true, false, err)) {
      err = "filling the mirror " + options.mirror_path + ": " + err;
      impl_.reset();
      return false;
    }
    i.wake_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (i.wake_fd < 0) {
      err = std::string("eventfd: ") + std::strerror(errno);
      impl_.reset();
      return false;
    }
    i.feed = std::thread([&i] { i.run_feed(); });
  }
  return true;
}

Error PgStore::run_write(const std::function<TxnEnd(Txn&)>& fn, WriteKind kind) {
  if (!impl_) return {Errc::kStoreFailed, "the store is not open"};
  Impl& i = *impl_;
  thread_local std::minstd_rand jitter(static_cast<unsigned>(std::hash<std::thread::id>{}(std::this_thread::get_id())));
  constexpr int kAttempts = 30;
  for (int attempt = 0;; ++attempt) {
    Error err;
    pg::Conn c = i.acquire(err);
    if (!c) return err;
    PGconn* conn = c.get();
    Usage u = i.usage_on(conn);  // (outside the transaction: a failed measure fails nothing)
    if (crossed_warning(i.warned, u.used_bytes, u.max_bytes))
      log_event("warn", "store_nearly_full", {{"used_bytes", std::to_string(u.used_bytes)},
                                              {"max_bytes", std::to_string(u.max_bytes)}});
    bool over = u.used_bytes > u.max_bytes;
    if (over && kind == WriteKind::kOrdinary) {
      i.release(std::move(c));
      return {Errc::kStoreFull, "store_full"};
    }
    PgTxn t(conn, over, "BEGIN ISOLATION LEVEL SERIALIZABLE", i.o.clock(), kDeferMargin);
    TxnEnd end;
    try {
      end = fn(t);
    } catch (...) {
      Impl::rollback(conn);
      i.release(std::move(c));
      throw;
    }
    Error result = t.error();
    bool retry = t.retryable();
    if (result.ok() && end == TxnEnd::kCommit) {
      if (t.commit()) {
        i.release(std::move(c));
        i.commits.fetch_add(1, std::memory_order_relaxed);
        if (i.down_logged.exchange(false)) log_event("info", "store_available_again", {});
        for (auto& after : t.take_after_commit()) {
          try {
            after();
          } catch (...) {
            // (a counter that could not allocate: the write itself landed)
          }
        }
        // (answered as failed if this node's nginx may not see it yet,
        // as LMDB answers a write whose mirror commit failed; retried, a
        // logout finds the session ended)
        if (t.deferred_only()) i.deferred.fetch_add(1, std::memory_order_relaxed);
        if ((t.changed_sessions() || t.awaits_mirror()) && !i.await_round())
          return {Errc::kStoreUnavailable, "store_mirror_behind: the write landed; this node's mirror has not caught up"};
        return {};
      }
      // A write or the COMMIT refused (a serialization failure found at
      // commit), or the connection lost: in the last case whether it
      // landed is unknown, and it is answered as failed, as a lost
      // connection after the commit would be.
      result = t.error();
      retry = t.retryable();
    }
    Impl::rollback(conn);
    i.release(std::move(c), t.broken());
    if (t.died_at_begin() && attempt == 0) {
      // A pooled connection the server had closed (a restart): every idle
      // one is closed too, and the write is tried once on a fresh one.
      i.drop_idle();
      continue;
    }
    if (result.ok()) return {};  // fn aborted
    if (retry && attempt + 1 < kAttempts) {
      i.retries.fetch_add(1, std::memory_order_relaxed);
      int cap = std::min(1 << std::min(attempt, 5), 32);
      std::this_thread::sleep_for(std::chrono::microseconds(100 + jitter() % (static_cast<unsigned>(cap) * 500)));
      continue;
    }
    i.failures.fetch_add(1, std::memory_order_relaxed);
    if (result.code == Errc::kStoreUnavailable && !i.down_logged.exchange(true))
      log_event("error", "store_unavailable", {{"reason", result.message}});
    return result;
  }
}

Error PgStore::run_read(const std::function<void(const Txn&)>& fn) const {
  if (!impl_) return {Errc::kStoreFailed, "the store is not open"};
  Impl& i = *impl_;
  for (int attempt = 0;; ++attempt) {
    Error err;
    pg::Conn c = i.acquire(err);
    if (!c) return err;
    PGconn* conn = c.get();
    // (BEGIN on its own: a pooled connection found dead is replaced before
    // fn runs; a read's fn, unlike a write's, is not run twice)
    bool retry_begin = false;
    if (Error e = i.begin(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", retry_begin); !e.ok()) {
      if (retry_begin && attempt == 0) continue;
      return e;
    }
    PgTxn t(conn, false, nullptr);
    try {
      fn(t);
    } catch (...) {
      Impl::rollback(conn);
      i.release(std::move(c));
      throw;
    }
    Impl::rollback(conn);
    i.release(std::move(c), t.broken());
    return t.error();
  }
}

Store::Usage PgStore::usage() const {
  if (!impl_) return Usage{};
  Error err;
  pg::Conn c = impl_->acquire(err);
  Usage u = impl_->usage_on(c.get());
  if (c) impl_->release(std::move(c));
  return u;
}

bool PgStore::claim_duty(const std::string& name, int64_t every) {
  if (!impl_) return false;
  Error err;
  pg::Conn c = impl_->acquire(err);
  if (!c) return false;
  // (one statement: its own transaction; of nodes racing, the row lock
  // lets one update, and the others then see the new time. A claim in the
  // future is taken over only when it is more than a period ahead: the
  // server's clock stepped back. clock_timestamp(), not now(): a racer's
  // now(), its statement's start, may be older than the winner's claim by
  // a lock wait; it would see that claim in the future.)
  pg::Result r = pg::Params()
                     .text(name)
                     .text(std::to_string(std::max<int64_t>(every, 1)))
                     .text(host_name() + ":" + std::to_string(::getpid()))
                     .run(c.get(),
                          "INSERT INTO spa_duties (name, claimed_at, claimed_by) VALUES ($1, clock_timestamp(), $3)"
                          " ON CONFLICT (name) DO UPDATE SET claimed_at = clock_timestamp(), claimed_by = $3"
                          " WHERE spa_duties.claimed_at <= clock_timestamp() - make_interval(secs => $2::integer)"
                          " OR spa_duties.claimed_at > clock_timestamp() + make_interval(secs => $2::integer) RETURNING name",
                          0);
  bool claimed = pg::ok(r.get()) && PQntuples(r.get()) == 1;
  bool broken = !pg::ok(r.get()) && (PQstatus(c.get()) == CONNECTION_BAD || unavailable_state(pg::sqlstate(r.get())));
  impl_->release(std::move(c), broken);
  return claimed;
}

int64_t PgStore::mirror_confirmed_ms() const { return impl_ ? impl_->confirmed_ms.load() : 0; }

std::string PgStore::metrics() const {
  Usage u = usage();
  using core::metric_counter, core::metric_gauge;
  const Impl* i = impl_.get();
  std::string out =
      metric_gauge("spa_authd_store_used_bytes", "Bytes spa-auth's tables take in PostgreSQL (measured every 5 s).",
            u.used_bytes) +
      metric_gauge("spa_authd_store_file_bytes", "PostgreSQL: as spa_authd_store_used_bytes.", u.file_bytes) +
      metric_gauge("spa_authd_store_max_bytes", "[store] max_size: past it, writes that grow the store are refused.",
            u.max_bytes) +
      metric_counter("spa_authd_store_commits_total", "Store transactions committed.", i ? i->commits.load() : 0) +
      metric_counter("spa_authd_store_retries_total",
              "Transactions run again after PostgreSQL could not serialize them with another.",
              i ? i->retries.load() : 0) +
      metric_counter("spa_authd_store_failures_total", "Store transactions that failed (not retried further).",
              i ? i->failures.load() : 0);
  if (i && i->mirror) {
    int64_t confirmed = i->confirmed_ms.load();
    double lag = confirmed > 0 ? static_cast<double>(wall_ms() - confirmed) / 1000.0 : 0;
    char sample[96];
    std::snprintf(sample, sizeof sample, "spa_authd_store_mirror_lag_seconds %.3f\n", lag);
    out += core::metric_family("spa_authd_store_mirror_lag_seconds", "gauge",
                               "Since the local mirror nginx reads was last confirmed current with PostgreSQL.") +
           sample +
           metric_gauge("spa_authd_store_mirror_stale",
                 "1 while the mirror is unconfirmed for longer than [store] max_staleness: nginx refuses sessions.",
                 wall_ms() - confirmed > i->o.max_staleness * 1000 ? 1 : 0) +
           metric_counter("spa_authd_store_mirror_rounds_total", "Rounds of the feed that brought the mirror current.",
                   i->rounds.load()) +
           metric_counter("spa_authd_store_mirror_full_rounds_total",
                   "Rounds that read the whole sessions table (start, reconnect, a restore, a feed long stalled).",
                   i->full_rounds.load()) +
           metric_counter("spa_authd_store_mirror_failures_total", "Rounds of the feed that failed.",
                   i->feed_failures.load()) +
           metric_counter("spa_authd_store_mirror_waits_total",
                   "Writes answered after this node's mirror had them (a session begun, ended or restricted).",
                   i->waits.load()) +
           metric_counter("spa_authd_store_mirror_deferred_total",
                   "Writes answered at once that only moved sessions' ends later (refresh rotations): the next round brings them.",
                   i->deferred.load());
  }
  return out;
}

}  // namespace spa::authd
