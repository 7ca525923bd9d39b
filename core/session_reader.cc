#include "core/session_reader.h"

#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "core/lmdb_handles.h"

namespace spa::core {
namespace {

struct FileId {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const FileId&) const = default;
};

bool file_id(const std::string& file, FileId& id) {
  struct stat st;
  if (::stat(file.c_str(), &st) != 0) return false;
  id = {st.st_dev, st.st_ino};
  return true;
}

}  // namespace

struct SessionReader::Lmdb {
  LmdbEnv env;
  MDB_dbi sessions = 0;
  MDB_dbi state = 0;  // the mirror's own table ("mirror"); absent in stores before it
  bool has_state = false;
  LmdbTxn txn;  // kept, reset between lookups
  FileId data_id, lock_id;

  ~Lmdb() { close(); }
  void close() {
    txn.abort();
    env.close();  // before any new open: closing a lock file fd drops this process's locks on it
  }
  int begin() { return txn.renew_read(env.get()); }
};

SessionReader::SessionReader() : lmdb_(std::make_unique<Lmdb>()) {}

bool SessionReader::open(const std::string& path, std::string& err) {
  path_ = path;
  return reopen(err);
}

void SessionReader::close() {
  lmdb_->close();
  available_ = false;
}

bool SessionReader::reopen(std::string& err) {
  close();
  Lmdb& l = *lmdb_;
  auto fail = [&](std::string why) {
    l.env.close();
    reason_ = err = std::move(why);
    return false;
  };
  // Read the files' identities first: a replacement after this is seen
  // at the next refresh.
  if (!file_id(path_ + "/data.mdb", l.data_id)) return fail(path_ + "/data.mdb: cannot stat");
  struct stat st;
  long page = ::sysconf(_SC_PAGESIZE);
  if (::stat((path_ + "/data.mdb").c_str(), &st) != 0 || st.st_size < 2 * (page > 0 ? page : 4096))
    return fail(path_ + "/data.mdb is truncated (no room for its header)");
  if (!l.env.open(path_, MDB_RDONLY, 16, 0, 0, err)) return fail(err);
  l.lock_id = {};
  file_id(path_ + "/lock.mdb", l.lock_id);
  std::string why;
  if (!data_file_whole(l.env.get(), path_, why)) return fail(why);
  if (!lock_matches_data(l.env.get()))
    return fail(path_ + "/lock.mdb belongs to another data file (data.mdb was replaced; spa-authd renews the lock at start)");
  int dead = 0;
  mdb_reader_check(l.env.get(), &dead);  // slots of killed workers
  LmdbTxn txn;
  int rc = txn.begin(l.env.get(), MDB_RDONLY);
  if (rc == 0) rc = mdb_dbi_open(txn.get(), kSessionsDb, 0, &l.sessions);
  if (rc != 0) return fail(std::string("LMDB ") + path_ + ": sessions database: " + mdb_strerror(rc));
  l.has_state = mdb_dbi_open(txn.get(), kMirrorStateDb, 0, &l.state) == 0;
  txn.commit();  // keeps the dbi handles open for the environment's life
  available_ = true;
  reason_.clear();
  return true;
}

void SessionReader::refresh(int64_t now) {
  if (checked_ && now == checked_at_) return;
  checked_ = true;
  checked_at_ = now;
  std::string err;
  if (!available_) {
    if (!path_.empty()) reopen(err);
    return;
  }
  Lmdb& l = *lmdb_;
  FileId data, lock;
  bool same = file_id(path_ + "/data.mdb", data) && data == l.data_id && file_id(path_ + "/lock.mdb", lock) &&
              lock == l.lock_id;
  if (!same || !data_file_whole(l.env.get(), path_, err)) reopen(err);
}

SessionReader::Lookup SessionReader::check(std::string_view sid, std::string_view sub, int64_t now,
                                           std::optional<int64_t> iat, std::string& err) {
  // spa-authd's ids are 32 hex characters; an empty or huge one (LMDB
  // refuses keys over 511 bytes) is simply not a session of ours.
  stale_ = false;
  if (sid.empty() || sid.size() > kMaxSidBytes) return Lookup::kUnknown;
  if (!available_) {
    err = reason_;
    return Lookup::kError;
  }
  Lmdb& l = *lmdb_;
  int rc = l.begin();
  if (rc == MDB_READERS_FULL) {
    // Slots of workers that were killed while registered: clear, retry once.
    int dead = 0;
    mdb_reader_check(l.env.get(), &dead);
    rc = l.begin();
  } else if (rc == MDB_MAP_RESIZED) {
    mdb_env_set_mapsize(l.env.get(), 0);  // the writer grew the map: adopt its size
    rc = l.begin();
  }
  if (rc != 0) {
    err = mdb_strerror(rc);
    return Lookup::kError;
  }
  // The snapshot is released as soon as this lookup ends: a long reader
  // would stall the writer's page reuse.
  LmdbSnapshot snapshot(l.txn);
  // A mirror of a shared store (spa-authd on PostgreSQL) says until when it
  // is known current: past its max_staleness it vouches for no session.
  std::optional<int64_t> confirmed;
  if (l.has_state) {
    auto number = [&](const char* name) -> std::optional<int64_t> {
      MDB_val k = mdb_val(name), v;
      if (mdb_get(l.txn.get(), l.state, &k, &v) != 0 || v.mv_size == 0 || v.mv_size > 20) return std::nullopt;
      int64_t n = 0;
      for (char c : view(v)) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + (c - '0');
      }
      return n;
    };
    auto confirmed_ms = number(kConfirmedKey);
    if (confirmed_ms) {
      int64_t max_staleness = number(kMaxStalenessKey).value_or(kDefaultMaxStaleness);
      confirmed = *confirmed_ms / 1000;
      if (now - *confirmed > max_staleness) {
        err = *confirmed_ms == 0 ? "the session mirror is not yet confirmed current (spa-authd is starting or cannot reach its store)"
                                 : "the session mirror was last confirmed current " + std::to_string(now - *confirmed) +
                                       " s ago, more than store.max_staleness (" + std::to_string(max_staleness) + " s)";
        stale_ = true;
        return Lookup::kError;
      }
    }
  }
  MDB_val key = mdb_val(sid), value;
  rc = mdb_get(l.txn.get(), l.sessions, &key, &value);
  Lookup result;
  if (rc == MDB_NOTFOUND) {
    // Unknown to a confirmed mirror, yet minted after (or about when) the
    // mirror was last confirmed: a session begun on another node that has
    // not arrived yet (sessions end as revoked records, never by vanishing
    // before their tokens expire). Unknown anywhere else: refused.
    bool on_its_way = confirmed && now - *confirmed <= kFreshConfirmation && iat && *iat >= *confirmed - kClockSkew;
    result = on_its_way ? Lookup::kValid : Lookup::kUnknown;
  } else if (rc != 0) {
    err = mdb_strerror(rc);
    result = Lookup::kError;
  } else {
    auto record = SessionRecord::decode(view(value));
    result = !record                                                  ? Lookup::kUnknown
             : record->accepts(now, iat) && record->belongs_to(sub) ? Lookup::kValid
                                                                    : Lookup::kRevoked;
  }
  return result;
}

SessionReader::~SessionReader() { close(); }

}  // namespace spa::core
