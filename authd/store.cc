#include "authd/store.h"

#include <sys/stat.h>

#include "authd/files.h"
#include "core/json_strict.h"

namespace spa::authd {
namespace {

constexpr const char* kNames[kDbCount] = {"meta",         "users",        "users_by_email",
                                          "users_by_name", "sessions",     "session_meta",
                                          "user_sessions", "refresh",      "audit",
                                          "mfa_pending",   "reset_tokens",  "oauth_states", "identities",
                                          "verify_tokens", "lockouts"};
constexpr size_t kMapSize = size_t{1} << 30;  // address space, not disk: the file grows as needed

using core::mdb_val;
using core::view;

// LMDB refuses empty keys and keys over 511 bytes; no key of ours is either.
bool usable_key(std::string_view key) { return !key.empty() && key.size() <= 511; }

}  // namespace

bool Store::Txn::fail(int rc, const char* what) const {
  err_ = std::string(what) + ": " + mdb_strerror(rc);
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

bool Store::open(const std::string& path, std::string& err) {
  if (!make_dirs(path, 0750, err)) return false;
  if (!env_.open(path, 0, kDbCount, kMapSize, 0640, err)) return false;
  ::chmod((path + "/lock.mdb").c_str(), 0660);
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
  rc = txn.commit();
  if (rc != 0) {
    err = std::string("LMDB commit: ") + mdb_strerror(rc);
    return false;
  }
  return true;
}

bool Store::write(const std::function<bool(Txn&)>& fn, std::string& err) {
  core::LmdbTxn txn;
  int rc = txn.begin(env_.get(), 0);
  if (rc != 0) {
    err = std::string("LMDB begin: ") + mdb_strerror(rc);
    return false;
  }
  Txn t(*this, txn.get());
  if (!fn(t)) {
    err = t.error();
    return false;  // the destructor aborts: nothing of it is kept
  }
  rc = txn.commit();
  if (rc != 0) {
    err = std::string("LMDB commit: ") + mdb_strerror(rc);
    return false;
  }
  return true;
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

std::optional<nlohmann::json> load_json(const Store::Txn& t, Db db, std::string_view key) {
  auto text = t.get(db, key);
  nlohmann::json j;
  std::string err;
  if (!text || !core::parse_json_strict(*text, j, err, core::JsonLimits{1 << 20, 8}) || !j.is_object())
    return std::nullopt;
  return j;
}

}  // namespace spa::authd
