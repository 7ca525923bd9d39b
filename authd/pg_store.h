// The PostgreSQL backend of the Store (authd/store.h), for several nodes
// that share one database (issue 18, docs/scale-out.md). Every table of
// the model is a table `spa_<name>` (k bytea primary key, v bytea): bytea
// orders as unsigned bytes, as LMDB's keys do.
//
// Writes: each transact() one SERIALIZABLE transaction, tried again from
// the start (fn run again) when PostgreSQL finds it could not be
// serialized with another (SQLSTATE 40001, 40P01): two nodes rotating the
// same refresh token cannot both win. Answered only after PostgreSQL's
// COMMIT returned. Reads: REPEATABLE READ, READ ONLY (one snapshot).
//
// The request path stays on the node: the sessions table is mirrored into
// the local LMDB at [store] path (authd/session_mirror.h) that nginx's
// workers read. Every write that changes a session also inserts its id into
// spa_session_changes in the same transaction; a feed thread of every
// spa-authd LISTENs, reads what changed since its last round (current
// values, so rounds never apply anything stale) and writes the mirror, at
// once on a notification and at least every kHeartbeatMs otherwise. Each
// round confirms the mirror current as of the time it began
// (SessionMirror's confirmed_ms): nginx fails closed once that is older
// than [store] max_staleness. A write of this node that changed a session
// NOTIFYs spa_sessions after its commit and is answered once a round begun
// after the commit has written the mirror (a logout holds on this node's
// next request) -- except a write that only moved an active session's end
// later, from an end more than kDeferMargin away (a refresh rotation):
// the feeds' next round brings it, and meanwhile every mirror holds the
// session valid with its earlier end.
//
// Missed notifications cost nothing (the next round reads the table);
// rows of transactions still open during a round are read again until
// they are seen (their xid is at or past the round's snapshot xmin); a
// reconnect, or rows pruned before this node read them, make the next
// round read the whole sessions table.
#pragma once

#include <ctime>
#include <functional>

#include <memory>
#include <string>

#include "authd/store.h"

namespace spa::authd {

class PgStore final : public Store {
 public:
  struct Options {
    std::string conninfo;  // [store] postgresql
    std::string password;  // what [store] postgresql_password_file holds ("" for none)
    uint64_t max_size = kDefaultMaxSize;
    // [store] path: the local mirror nginx reads. Empty for a command that
    // only writes (its changes reach every node's mirror by the feeds).
    std::string mirror_path;
    int64_t max_staleness = 30;  // [store] max_staleness, seconds
    size_t connections = 8;      // the most connections spa-authd opens (the feed's besides)
    // The clock (Unix seconds) session ends are compared with, to defer a
    // write (kDeferMargin): the service's, which tests set.
    std::function<int64_t()> clock = [] { return static_cast<int64_t>(std::time(nullptr)); };
  };
  static constexpr int kHeartbeatMs = 250;
  // The largest [store] max_staleness a node may have (seconds).
  static constexpr int64_t kMaxStaleness = 3600;
  // A session end more than this away (seconds) is in the future in every
  // mirror that is not stale, whatever older value it holds: a mirror of
  // any node holds every commit older than its max_staleness (at most
  // kMaxStaleness), and a minute covers the nodes' clocks.
  static constexpr int64_t kDeferMargin = kMaxStaleness + 60;

  PgStore();
  ~PgStore() override;

  // Connects, refuses a database whose schema is missing, older or newer
  // than this binary's (`spa-authd db migrate` makes it), runs
  // prepare_schema, and with a mirror path opens the mirror, fills it from
  // the sessions table and starts the feed.
  bool open(const Options& options, std::string& err);

  // `spa-authd db migrate`: creates or brings the schema to this binary's
  // version, one migration per transaction, under an advisory lock (two
  // nodes migrating at once take turns). Idempotent. Refused, changing
  // nothing, when the database's schema is newer than this binary's.
  // `report`: what it did, for the operator.
  static bool migrate(const Options& options, std::string& report, std::string& err);
  // The newest schema version this binary knows.
  static int schema_version();

  Usage usage() const override;
  // The store's families, and the mirror's: spa_authd_store_mirror_lag_seconds,
  // spa_authd_store_mirror_stale, spa_authd_store_retries_total, ...
  std::string metrics() const override;
  // One node of all: a row of spa_duties, claimed by an UPDATE that only
  // one of them can win per period (false too when PostgreSQL is away).
  bool claim_duty(const std::string& name, int64_t every) override;

  // The mirror's confirmed time (Unix ms; 0 before the first round).
  int64_t mirror_confirmed_ms() const;

 private:
  Error run_write(const std::function<TxnEnd(Txn&)>& fn, WriteKind kind) override;
  Error run_read(const std::function<void(const Txn&)>& fn) const override;

  struct Impl;  // the connection pool, the feed (pg_store.cc)
  std::unique_ptr<Impl> impl_;
};

}  // namespace spa::authd
