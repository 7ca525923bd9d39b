#include "core/session_reader.h"

#include <sys/stat.h>
#include <unistd.h>

namespace spa::core {
namespace {

bool file_id(const std::string& file, dev_t& dev, ino_t& ino) {
  struct stat st;
  if (::stat(file.c_str(), &st) != 0) return false;
  dev = st.st_dev;
  ino = st.st_ino;
  return true;
}

}  // namespace

bool SessionReader::open(const std::string& path, std::string& err) {
  path_ = path;
  return reopen(err);
}

void SessionReader::close() {
  txn_.abort();
  env_.close();  // before any new open: closing a lock file fd drops this process's locks on it
  txn_env_ok_ = false;
}

bool SessionReader::reopen(std::string& err) {
  close();
  auto fail = [&](std::string why) {
    env_.close();
    reason_ = err = std::move(why);
    return false;
  };
  // Read the files' identities first: a replacement after this is seen
  // at the next refresh.
  if (!file_id(path_ + "/data.mdb", data_id_.dev, data_id_.ino)) return fail(path_ + "/data.mdb: cannot stat");
  struct stat st;
  long page = ::sysconf(_SC_PAGESIZE);
  if (::stat((path_ + "/data.mdb").c_str(), &st) != 0 || st.st_size < 2 * (page > 0 ? page : 4096))
    return fail(path_ + "/data.mdb is truncated (no room for its header)");
  if (!env_.open(path_, MDB_RDONLY, 16, 0, 0, err)) return fail(err);
  lock_id_ = {};
  file_id(path_ + "/lock.mdb", lock_id_.dev, lock_id_.ino);
  std::string why;
  if (!data_file_whole(env_.get(), path_, why)) return fail(why);
  if (!lock_matches_data(env_.get()))
    return fail(path_ + "/lock.mdb belongs to another data file (data.mdb was replaced; spa-authd renews the lock at start)");
  int dead = 0;
  mdb_reader_check(env_.get(), &dead);  // slots of killed workers
  LmdbTxn txn;
  int rc = txn.begin(env_.get(), MDB_RDONLY);
  if (rc == 0) rc = mdb_dbi_open(txn.get(), "sessions", 0, &sessions_);
  if (rc != 0) return fail(std::string("LMDB ") + path_ + ": sessions database: " + mdb_strerror(rc));
  txn.commit();  // keeps the dbi handle open for the environment's life
  txn_env_ok_ = true;
  reason_.clear();
  return true;
}

void SessionReader::refresh(int64_t now) {
  if (checked_ && now == checked_at_) return;
  checked_ = true;
  checked_at_ = now;
  std::string err;
  if (!txn_env_ok_) {
    if (!path_.empty()) reopen(err);
    return;
  }
  FileId data, lock;
  bool same = file_id(path_ + "/data.mdb", data.dev, data.ino) && data == data_id_ &&
              file_id(path_ + "/lock.mdb", lock.dev, lock.ino) && lock == lock_id_;
  if (!same || !data_file_whole(env_.get(), path_, err)) reopen(err);
}

SessionReader::Lookup SessionReader::check(std::string_view sid, int64_t now, std::optional<int64_t> iat, std::string& err) {
  // spa-authd's ids are 32 hex characters; an empty or huge one (LMDB
  // refuses keys over 511 bytes) is simply not a session of ours.
  if (sid.empty() || sid.size() > kMaxSidBytes) return Lookup::kUnknown;
  if (!txn_env_ok_) {
    err = reason_;
    return Lookup::kError;
  }
  int rc = txn_.renew_read(env_.get());
  if (rc == MDB_READERS_FULL) {
    // Slots of workers that were killed while registered: clear, retry once.
    int dead = 0;
    mdb_reader_check(env_.get(), &dead);
    rc = txn_.renew_read(env_.get());
  } else if (rc == MDB_MAP_RESIZED) {
    mdb_env_set_mapsize(env_.get(), 0);  // the writer grew the map: adopt its size
    rc = txn_.renew_read(env_.get());
  }
  if (rc != 0) {
    err = mdb_strerror(rc);
    return Lookup::kError;
  }
  LmdbSnapshot snapshot(txn_);  // released as soon as this lookup ends
  MDB_val key = mdb_val(sid), value;
  rc = mdb_get(txn_.get(), sessions_, &key, &value);
  if (rc == MDB_NOTFOUND) return Lookup::kUnknown;
  if (rc != 0) {
    err = mdb_strerror(rc);
    return Lookup::kError;
  }
  auto record = SessionRecord::decode(view(value));
  if (!record) return Lookup::kUnknown;
  return record->accepts(now, iat) ? Lookup::kValid : Lookup::kRevoked;
}

SessionReader::~SessionReader() { close(); }

}  // namespace spa::core
