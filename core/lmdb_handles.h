// RAII for LMDB handles shared by spa-authd (read-write) and the module
// (read-only): an environment, and transactions that abort unless committed.
#pragma once

#include <lmdb.h>

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

  // flags: MDB_RDONLY for readers. max_dbs named databases; map_size bytes.
  bool open(const std::string& path, unsigned flags, unsigned max_dbs, size_t map_size, mdb_mode_t mode,
            std::string& err) {
    int rc = mdb_env_create(&env_);
    if (rc == 0) rc = mdb_env_set_maxdbs(env_, max_dbs);
    if (rc == 0 && map_size) rc = mdb_env_set_mapsize(env_, map_size);
    if (rc == 0) rc = mdb_env_set_maxreaders(env_, 512);
    if (rc == 0) rc = mdb_env_open(env_, path.c_str(), flags | MDB_NOTLS, mode);
    if (rc != 0) {
      err = std::string("LMDB ") + path + ": " + mdb_strerror(rc);
      if (env_) mdb_env_close(env_);
      env_ = nullptr;
      return false;
    }
    return true;
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
  int commit() {
    int rc = mdb_txn_commit(txn_);
    txn_ = nullptr;
    return rc;
  }
  void abort() {
    if (txn_) mdb_txn_abort(txn_);
    txn_ = nullptr;
  }
  MDB_txn* get() const { return txn_; }

 private:
  MDB_txn* txn_ = nullptr;
};

inline MDB_val mdb_val(std::string_view s) { return MDB_val{s.size(), const_cast<char*>(s.data())}; }
inline std::string_view view(const MDB_val& v) { return {static_cast<const char*>(v.mv_data), v.mv_size}; }

}  // namespace spa::core
