// The LMDB backend of the Store (authd/store.h): one environment at
// [store] private_path, written only by spa-authd; every change one write
// transaction (a child transaction of a group commit's batch) answered
// only after LMDB's synchronous commit, so `kill -9` loses nothing
// answered and never leaves half a change. nginx's workers read a mirror
// of the sessions table at [store] path (core/session_reader.h), written
// after each commit that changed a session, before it is answered.
//
// Size: the map is `max_size` plus a reserve (reserve_for) that only
// revocation-class writes may use; past max_size ordinary writes are
// refused and Txn::over_limit tells revocations not to grow the store
// (docs/authd.md, "Store").
//
// The only file of spa-authd that knows LMDB is lmdb_store.cc: this header
// keeps the environment behind a pointer, so what includes it (main.cc,
// tests) sees no LMDB type.
#pragma once

#include <memory>
#include <string>

#include "authd/store.h"

namespace spa::authd {

class LmdbStore final : public Store {
 public:
  LmdbStore();
  ~LmdbStore() override;

  // Address space beyond max_size that only revocation-class writes use.
  static uint64_t reserve_for(uint64_t max_size) { return std::max<uint64_t>(max_size / 4, uint64_t{4} << 20); }

  // Two environments. The store itself, every table, in `private_dir`
  // (default_private_path(path) when empty): directory 0700, files 0600,
  // spa-authd's alone. The mirror at `path`: the sessions table alone, what
  // nginx's workers read (core/session_reader.h); directory 0750, data
  // 0640, lock file 0660 so that they register as readers. Every write
  // that changes a session changes the mirror before it is answered; at
  // open the mirror is made to match the store (sync_mirror).
  //
  // Creates what is missing and checks the schema version
  // (prepare_schema). A whole store found at `path` (spa-authd before the
  // mirror) is moved into private_dir by rename. Also clears reader slots
  // left by dead processes (mdb_reader_check), replaces a lock file that
  // belongs to another data file (a store restored by renaming over
  // data.mdb while a reader kept the old lock), and makes a damaged mirror
  // afresh. On an open store, closes it first (no transaction may be
  // running).
  bool open(const std::string& path, std::string& err, uint64_t max_size = kDefaultMaxSize,
            const std::string& private_dir = "");
  // [store] private_path's default: "private" inside path.
  static std::string default_private_path(const std::string& path) { return path + "/private"; }

  Usage usage() const override;
  std::string metrics() const override;
  // Writes waiting for the group commit (tests: to know a batch has formed).
  size_t queued_writes() const;

 private:
  Error run_write(const std::function<TxnEnd(Txn&)>& fn, WriteKind kind) override;
  Error run_read(const std::function<void(const Txn&)>& fn) const override;

  struct Env;  // the environment, its handles and the size bookkeeping (lmdb_store.cc)
  std::unique_ptr<Env> env_;
};

}  // namespace spa::authd
