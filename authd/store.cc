#include "authd/store.h"

#include <sys/stat.h>
#include <unistd.h>

#include "authd/files.h"
#include "authd/refresh_rotation.h"
#include "authd/server.h"
#include "core/json_strict.h"

namespace spa::authd {
namespace {

constexpr const char* kNames[kDbCount] = {"meta",         "users",        "users_by_email",
                                          "users_by_name", "sessions",     "session_meta",
                                          "user_sessions", "refresh",      "audit",
                                          "mfa_pending",   "reset_tokens",  "oauth_states", "identities",
                                          "session_refresh", "user_records", "user_audit",
                                          "verify_tokens", "lockouts"};
constexpr MDB_dbi kFreeDbi = 0, kMainDbi = 1;  // LMDB's own: free pages, and the names of ours

using core::mdb_val;
using core::view;

// LMDB refuses empty keys and keys over 511 bytes; no key of ours is either.
bool usable_key(std::string_view key) { return !key.empty() && key.size() <= 511; }

// Stores made before session_refresh, user_records and user_audit existed:
// index what they hold, once, at open.
bool backfill_indexes(Store::Txn& t) {
  std::vector<std::pair<Db, std::string>> entries;
  t.scan(Db::kRefresh, "", [&](std::string_view k, std::string_view v) {
    if (auto r = RefreshRecord::from_json(v)) entries.emplace_back(Db::kSessionRefresh, r->sid + std::string(k));
    return true;
  });
  for (const auto& u : kUserTables)
    t.scan(u.db, "", [&](std::string_view k, std::string_view v) {
      nlohmann::json j;
      std::string e;
      if (core::parse_json_strict(v, j, e) && j.is_object() && j.value("user", "").size() > 0)
        entries.emplace_back(Db::kUserRecords, user_record_index_key(u.db, j.value("user", ""), k));
      return true;
    });
  t.scan(Db::kAudit, "", [&](std::string_view k, std::string_view v) {
    nlohmann::json j;
    std::string e;
    if (core::parse_json_strict(v, j, e) && j.is_object() && j.value("subject", "").size() > 0)
      entries.emplace_back(Db::kUserAudit, j.value("subject", "") + std::string(k));
    return true;
  });
  for (const auto& [db, key] : entries)
    if (!t.put(db, key, "")) return false;
  return t.error().empty();
}

}  // namespace

bool Store::Txn::fail(int rc, const char* what) const {
  err_ = rc == MDB_MAP_FULL ? std::string(kFullError) : std::string(what) + ": " + mdb_strerror(rc);
  return false;
}

bool crossed_warning(std::atomic<bool>& warned, uint64_t used, uint64_t max) {
  if (max == 0) return false;
  if (used * 100 >= max * 80) return !warned.exchange(true);
  if (used * 100 < max * 75) warned.store(false);
  return false;
}

std::optional<std::string> Store::Txn::get(Db db, std::string_view key) const {
  if (!usable_key(key)) return std::nullopt;
  MDB_val k = mdb_val(key), v;
  int rc = mdb_get(txn_, store_.dbis_[static_cast<int>(db)], &k, &v);
  if (rc != 0) {
    if (rc != MDB_NOTFOUND) fail(rc, "get");
    return std::nullopt;
  }
  return std::string(view(v));
}

bool Store::Txn::put(Db db, std::string_view key, std::string_view value) {
  if (!usable_key(key)) {
    err_ = "put: unusable key";
    return false;
  }
  MDB_val k = mdb_val(key), v = mdb_val(value);
  int rc = mdb_put(txn_, store_.dbis_[static_cast<int>(db)], &k, &v, 0);
  return rc == 0 || fail(rc, "put");
}

bool Store::Txn::del(Db db, std::string_view key) {
  if (!usable_key(key)) return true;  // nothing stored under it
  MDB_val k = mdb_val(key);
  int rc = mdb_del(txn_, store_.dbis_[static_cast<int>(db)], &k, nullptr);
  return rc == 0 || rc == MDB_NOTFOUND || fail(rc, "del");
}

bool Store::Txn::scan(Db db, std::string_view prefix,
                      const std::function<bool(std::string_view, std::string_view)>& fn) const {
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn_, store_.dbis_[static_cast<int>(db)], &cursor);
  if (rc != 0) return fail(rc, "cursor");
  MDB_val k = mdb_val(prefix), v;
  rc = mdb_cursor_get(cursor, &k, &v, prefix.empty() ? MDB_FIRST : MDB_SET_RANGE);
  while (rc == 0) {
    std::string_view key = view(k);
    if (key.substr(0, prefix.size()) != prefix || !fn(key, view(v))) break;
    rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
  }
  mdb_cursor_close(cursor);
  return rc == 0 || rc == MDB_NOTFOUND || fail(rc, "scan");
}

bool Store::Txn::scan_from(Db db, std::string_view from,
                           const std::function<bool(std::string_view, std::string_view)>& fn) const {
  MDB_cursor* cursor = nullptr;
  int rc = mdb_cursor_open(txn_, store_.dbis_[static_cast<int>(db)], &cursor);
  if (rc != 0) return fail(rc, "cursor");
  MDB_val k = mdb_val(from), v;
  rc = mdb_cursor_get(cursor, &k, &v, from.empty() ? MDB_FIRST : MDB_SET_RANGE);
  while (rc == 0 && fn(view(k), view(v))) rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
  mdb_cursor_close(cursor);
  return rc == 0 || rc == MDB_NOTFOUND || fail(rc, "scan");
}

bool Store::open(const std::string& path, std::string& err, uint64_t max_size) {
  if (!make_dirs(path, 0750, err)) return false;
  path_ = path;
  max_size_ = max_size;
  map_size_ = max_size + reserve_for(max_size);  // address space, not disk: the file grows as needed
  if (!env_.open(path, 0, kDbCount, map_size_, 0640, err)) return false;
  if (!core::lock_matches_data_exactly(env_.get())) {
    // data.mdb was replaced under a lock file some reader kept open: the
    // writer starts a fresh lock file; readers notice it and reopen.
    log_event("warn", "store_lock_replaced", {{"path", path}});
    env_.close();
    ::unlink((path + "/lock.mdb").c_str());
    if (!env_.open(path, 0, kDbCount, map_size_, 0640, err)) return false;
  }
  ::chmod((path + "/lock.mdb").c_str(), 0660);
  if (!core::data_file_whole(env_.get(), path, err)) return false;
  struct stat fs;
  if (::stat((path + "/data.mdb").c_str(), &fs) == 0) data_dev_ = fs.st_dev, data_ino_ = fs.st_ino;
  int dead = 0;
  mdb_reader_check(env_.get(), &dead);  // slots of killed readers (nginx workers)
  if (dead > 0) log_event("info", "store_stale_readers_cleared", {{"count", std::to_string(dead)}});
  // A store larger than max_size (the setting was lowered) still gets the
  // whole reserve beyond what it holds.
  MDB_envinfo info;
  MDB_stat st;
  if (mdb_env_info(env_.get(), &info) == 0 && mdb_env_stat(env_.get(), &st) == 0) {
    uint64_t file = (static_cast<uint64_t>(info.me_last_pgno) + 1) * st.ms_psize;
    if (file + reserve_for(max_size) > map_size_) {
      map_size_ = file + reserve_for(max_size);
      mdb_env_set_mapsize(env_.get(), map_size_);
    }
  }
  core::LmdbTxn txn;
  int rc = txn.begin(env_.get(), 0);
  for (int i = 0; rc == 0 && i < kDbCount; ++i) rc = mdb_dbi_open(txn.get(), kNames[i], MDB_CREATE, &dbis_[i]);
  if (rc != 0) {
    err = std::string("LMDB ") + path + ": " + mdb_strerror(rc);
    return false;
  }
  Txn t(*this, txn.get());
  auto version = t.get(Db::kMeta, "schema_version");
  if (!version) {
    if (!t.put(Db::kMeta, "schema_version", kSchemaVersion)) {
      err = t.error();
      return false;
    }
  } else if (*version != kSchemaVersion) {
    err = "store " + path + " has schema version " + *version + ", this spa-authd reads version " + kSchemaVersion;
    return false;
  }
  if (!t.get(Db::kMeta, "indexes") && (!backfill_indexes(t) || !t.put(Db::kMeta, "indexes", "1"))) {
    err = "building indexes: " + t.error();
    return false;
  }
  rc = txn.commit();
  if (rc != 0) {
    err = std::string("LMDB commit: ") + mdb_strerror(rc);
    return false;
  }
  return true;
}

uint64_t Store::used_bytes(MDB_txn* txn) const {
  MDB_stat st;
  uint64_t pages = 2;  // the meta pages
  auto add = [&](MDB_dbi dbi) {
    if (mdb_stat(txn, dbi, &st) == 0) pages += st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
  };
  add(kFreeDbi);
  add(kMainDbi);
  for (MDB_dbi dbi : dbis_) add(dbi);
  mdb_env_stat(env_.get(), &st);
  return pages * st.ms_psize;
}

Store::Usage Store::usage_in(MDB_txn* txn) const {
  Usage u;
  u.used_bytes = used_bytes(txn);
  MDB_envinfo info;
  MDB_stat st;
  if (mdb_env_info(env_.get(), &info) == 0 && mdb_env_stat(env_.get(), &st) == 0)
    u.file_bytes = (static_cast<uint64_t>(info.me_last_pgno) + 1) * st.ms_psize;
  u.max_bytes = max_size_;
  u.map_bytes = map_size_;
  return u;
}

// Past the limit when the data passes max_size, or the file's high-water
// mark eats into the reserve's second half (free pages that readers still
// pin cannot be reused, so the file can grow faster than the data).
bool Store::past_limit(const Usage& u) const {
  return u.used_bytes > max_size_ || u.file_bytes > max_size_ + reserve_for(max_size_) / 2;
}

void Store::note_usage(const Usage& u) const {
  if (crossed_warning(warned_, u.used_bytes, u.max_bytes))
    log_event("warn", "store_nearly_full", {{"used_bytes", std::to_string(u.used_bytes)},
                                            {"max_bytes", std::to_string(u.max_bytes)}});
}

Store::Usage Store::usage() const {
  core::LmdbTxn txn;
  if (txn.begin(env_.get(), MDB_RDONLY) != 0) return Usage{0, 0, max_size_, map_size_};
  Usage u = usage_in(txn.get());
  note_usage(u);
  return u;
}

std::string Store::metrics() const {
  Usage u = usage();
  return "# TYPE spa_authd_store_used_bytes gauge\nspa_authd_store_used_bytes " + std::to_string(u.used_bytes) +
         "\n# TYPE spa_authd_store_file_bytes gauge\nspa_authd_store_file_bytes " + std::to_string(u.file_bytes) +
         "\n# TYPE spa_authd_store_max_bytes gauge\nspa_authd_store_max_bytes " + std::to_string(u.max_bytes) + "\n";
}

bool Store::data_file_replaced() const {
  struct stat fs;
  return ::stat((path_ + "/data.mdb").c_str(), &fs) != 0 || fs.st_dev != data_dev_ || fs.st_ino != data_ino_;
}

bool Store::write(const std::function<bool(Txn&)>& fn, std::string& err, WriteKind kind) {
  // A stat per write (next to a synchronous commit, nothing): a revocation
  // answered 200 must be in the file the module reads.
  if (data_file_replaced()) {
    if (!replaced_logged_.exchange(true))
      log_event("error", "store_file_replaced", {{"path", path_}, {"action", "restart spa-authd to use the new file"}});
    err = kReplacedError;
    return false;
  }
  for (int attempt = 0;; ++attempt) {
    core::LmdbTxn txn;
    int rc = txn.begin(env_.get(), 0);
    if (rc != 0) {
      err = std::string("LMDB begin: ") + mdb_strerror(rc);
      return false;
    }
    Txn t(*this, txn.get());
    Usage u = usage_in(txn.get());
    note_usage(u);
    t.over_limit_ = past_limit(u);
    if (t.over_limit_ && kind == WriteKind::kOrdinary) {
      err = kFullError;
      return false;
    }
    bool done = fn(t);
    if (done) {
      rc = txn.commit();
      if (rc == 0) {
        if (!t.over_limit_) full_logged_.store(false);
        return true;
      }
      err = rc == MDB_MAP_FULL ? std::string(kFullError) : std::string("LMDB commit: ") + mdb_strerror(rc);
    } else {
      err = t.error();
      txn.abort();  // nothing of it is kept
    }
    // A revocation that found no room: pages pinned by dead readers come
    // free once their slots are cleared; try once more.
    if (err == kFullError && kind == WriteKind::kRevocation && attempt == 0) {
      int dead = 0;
      mdb_reader_check(env_.get(), &dead);
      continue;
    }
    if (err == kFullError && !full_logged_.exchange(true))
      log_event("error", "store_full", {{"used_bytes", std::to_string(u.used_bytes)},
                                                             {"max_bytes", std::to_string(max_size_)}});
    return false;
  }
}

bool Store::read(const std::function<void(const Txn&)>& fn, std::string& err) const {
  core::LmdbTxn txn;
  int rc = txn.begin(env_.get(), MDB_RDONLY);
  if (rc != 0) {
    err = std::string("LMDB begin: ") + mdb_strerror(rc);
    return false;
  }
  Txn t(*this, txn.get());
  fn(t);
  err = t.error();
  return err.empty();
}

std::optional<core::SessionRecord> load_session(const Store::Txn& t, std::string_view sid) {
  auto bytes = t.get(Db::kSessions, sid);
  return bytes ? core::SessionRecord::decode(*bytes) : std::nullopt;
}

std::string user_record_index_key(Db db, const std::string& user_id, std::string_view key) {
  for (const auto& u : kUserTables)
    if (u.db == db) return user_id + u.tag + std::string(key);
  return {};
}

bool put_user_record(Store::Txn& t, Db db, std::string_view key, const std::string& user_id, std::string_view value) {
  std::string index = user_record_index_key(db, user_id, key);
  return t.put(db, key, value) && (index.empty() || t.put(Db::kUserRecords, index, ""));
}

std::vector<std::string> user_record_keys(const Store::Txn& t, Db db, const std::string& user_id) {
  std::vector<std::string> keys;
  std::string prefix = user_record_index_key(db, user_id, "");
  if (prefix.empty() || user_id.empty()) return keys;
  t.scan(Db::kUserRecords, prefix, [&](std::string_view k, std::string_view) {
    keys.emplace_back(k.substr(prefix.size()));
    return true;
  });
  return keys;
}

bool delete_user_records(Store::Txn& t, Db db, const std::string& user_id) {
  for (const auto& k : user_record_keys(t, db, user_id))
    if (!t.del(db, k) || !t.del(Db::kUserRecords, user_record_index_key(db, user_id, k))) return false;
  return true;
}

std::optional<nlohmann::json> load_json(const Store::Txn& t, Db db, std::string_view key) {
  auto text = t.get(db, key);
  nlohmann::json j;
  std::string err;
  if (!text || !core::parse_json_strict(*text, j, err, core::JsonLimits{1 << 20, 8}) || !j.is_object())
    return std::nullopt;
  return j;
}

}  // namespace spa::authd
