#include "core/session_reader.h"

namespace spa::core {

bool SessionReader::open(const std::string& path, std::string& err) {
  if (!env_.open(path, MDB_RDONLY, 16, 0, 0, err)) return false;
  LmdbTxn txn;
  int rc = txn.begin(env_.get(), MDB_RDONLY);
  if (rc == 0) rc = mdb_dbi_open(txn.get(), "sessions", 0, &sessions_);
  if (rc != 0) {
    err = std::string("LMDB ") + path + ": sessions database: " + mdb_strerror(rc);
    return false;
  }
  txn.commit();  // keeps the dbi handle open for the environment's life
  return true;
}

SessionReader::Lookup SessionReader::check(std::string_view sid, int64_t now, std::optional<int64_t> iat, std::string& err) {
  // spa-authd's ids are 32 hex characters; an empty or huge one (LMDB
  // refuses keys over 511 bytes) is simply not a session of ours.
  if (sid.empty() || sid.size() > kMaxSidBytes) return Lookup::kUnknown;
  int rc = txn_ ? mdb_txn_renew(txn_) : mdb_txn_begin(env_.get(), nullptr, MDB_RDONLY, &txn_);
  if (rc != 0) {
    if (txn_) mdb_txn_abort(txn_);
    txn_ = nullptr;
    err = mdb_strerror(rc);
    return Lookup::kError;
  }
  MDB_val key = mdb_val(sid), value;
  rc = mdb_get(txn_, sessions_, &key, &value);
  Lookup result;
  if (rc == MDB_NOTFOUND) {
    result = Lookup::kUnknown;
  } else if (rc != 0) {
    err = mdb_strerror(rc);
    result = Lookup::kError;
  } else {
    auto record = SessionRecord::decode(view(value));
    result = !record ? Lookup::kUnknown : record->accepts(now, iat) ? Lookup::kValid : Lookup::kRevoked;
  }
  mdb_txn_reset(txn_);  // release the snapshot at once: a long reader would stall the writer's page reuse
  return result;
}

SessionReader::~SessionReader() {
  if (txn_) mdb_txn_abort(txn_);
}

}  // namespace spa::core
