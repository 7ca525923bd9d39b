#include "authd/db_import.h"

#include <lmdb.h>
#include <sys/stat.h>

#include <optional>
#include <vector>
#include <string_view>

#include "authd/factor_codes.h"
#include "authd/records/user.h"
#include "core/lmdb_handles.h"

namespace spa::authd {

namespace {

using core::mdb_val;
using core::view;

std::string lmdb_error(const std::string& dir, const char* what, int rc) {
  return "LMDB " + dir + ": " + what + ": " + mdb_strerror(rc);
}

}  // namespace

ImportResult import_lmdb_store(const std::string& dir, Store& into, const ImportOptions& options) {
  FactorCodes codes(options.mfa_key);
  ImportResult r;
  struct stat st;
  if (::stat((dir + "/data.mdb").c_str(), &st) != 0 || !S_ISREG(st.st_mode)) {
    r.error = dir + " holds no LMDB store (no data.mdb): name the directory of the old [store] private_path";
    return r;
  }
  core::LmdbEnv env;
  // Read-only, and registered as a reader: a daemon writing meanwhile
  // reuses none of this snapshot's pages. (Map size 0: the file's own.)
  if (!env.open(dir, MDB_RDONLY, kDbCount + 2, 0, 0600, r.error)) return r;
  core::LmdbTxn txn;
  if (int rc = txn.begin(env.get(), MDB_RDONLY); rc != 0) {
    r.error = lmdb_error(dir, "read transaction", rc);
    return r;
  }
  std::array<std::optional<MDB_dbi>, kDbCount> dbis;
  for (int i = 0; i < kDbCount; ++i) {
    MDB_dbi dbi;
    int rc = mdb_dbi_open(txn.get(), db_name(static_cast<Db>(i)), 0, &dbi);
    if (rc == 0) dbis[i] = dbi;
    else if (rc != MDB_NOTFOUND) {  // (absent: a table of a later version, empty)
      r.error = lmdb_error(dir, db_name(static_cast<Db>(i)), rc);
      return r;
    }
  }
  const int meta = static_cast<int>(Db::kMeta);
  if (!dbis[meta]) {
    r.error = dir + " is not a whole spa-authd store (no meta table; the sessions mirror at [store] path is not one): "
                    "name the directory of the old [store] private_path";
    return r;
  }
  MDB_val k = mdb_val("schema_version"), v;
  int rc = mdb_get(txn.get(), *dbis[meta], &k, &v);
  if (rc != 0 || view(v) != kSchemaVersion) {
    r.error = dir + " has schema version " + (rc == 0 ? std::string(view(v)) : std::string("(none)")) +
              ", this spa-authd reads version " + kSchemaVersion;
    return r;
  }

  std::string refused;        // why fn dropped its work, when the store did not fail
  bool seed_checked = false;  // a sealed TOTP seed opened (one is enough: all are sealed under one key)
  Error e = into.transact([&](Store::Txn& t) {
    r.rows.fill(0);
    r.bytes = 0;
    refused.clear();
    for (int i = 0; i < kDbCount; ++i) {
      Db db = static_cast<Db>(i);
      if (db == Db::kMeta) continue;  // (open wrote it; it is replaced below)
      bool any = false;
      auto first = [&](std::string_view, std::string_view) {
        any = true;
        return false;  // (one is enough)
      };
      if (!t.scan_from(db, "", first)) return TxnEnd::kAbort;
      if (any) {
        refused = std::string("the database already holds records (table ") + db_name(db) +
                  "): import only into a database that `spa-authd db migrate` has just made";
        return TxnEnd::kAbort;
      }
    }
    // meta is the source's, whole: open wrote this binary's "indexes" into
    // the empty database, which would hide that an older store lacks them.
    std::vector<std::string> meta_keys;
    if (!t.scan_from(Db::kMeta, "", [&](std::string_view k, std::string_view) {
          meta_keys.emplace_back(k);
          return true;
        }))
      return TxnEnd::kAbort;
    for (const auto& k : meta_keys)
      if (!t.del(Db::kMeta, k)) return TxnEnd::kAbort;
    seed_checked = false;
    for (int i = 0; i < kDbCount; ++i) {
      if (!dbis[i]) continue;
      Db db = static_cast<Db>(i);
      core::LmdbCursor c;
      int rc = c.open(txn.get(), *dbis[i]);
      MDB_val key, value;
      for (int op = MDB_FIRST; rc == 0; op = MDB_NEXT) {
        if ((rc = mdb_cursor_get(c.get(), &key, &value, static_cast<MDB_cursor_op>(op))) != 0) break;
        if (db == Db::kMeta && view(key) == "timing_pad") continue;  // (a write with nothing to say)
        if (db == Db::kUsers && !seed_checked) {
          auto user = UserRecord::from_json(view(value));
          const auto& sealed = user && user->mfa ? (user->mfa->secret ? user->mfa->secret : user->mfa->pending)
                                                 : std::optional<std::string>{};
          if (sealed) {
            if (!codes.open_totp(user->id, sealed)) {
              refused = "mfa.secret_key_file does not open the TOTP secrets of " + dir +
                        " (they were sealed under another key): copy the old machine's file to every node";
              return TxnEnd::kAbort;
            }
            seed_checked = true;
          }
        }
        if (!t.put(db, view(key), view(value))) return TxnEnd::kAbort;
        ++r.rows[i];
        r.bytes += key.mv_size + value.mv_size;
      }
      if (rc != MDB_NOTFOUND) {
        refused = lmdb_error(dir, db_name(db), rc);
        return TxnEnd::kAbort;
      }
    }
    // A store of an earlier release lacks indexes; they are built here, in
    // the same transaction, as the store's open would have built them.
    refused = prepare_schema(t, "imported from " + dir);
    if (!refused.empty()) return TxnEnd::kAbort;
    // Written meanwhile (a daemon still running on it): what it wrote after
    // the snapshot, a logout say, would be lost. Nothing is imported.
    MDB_envinfo info;
    if (mdb_env_info(env.get(), &info) != 0 || info.me_last_txnid != mdb_txn_id(txn.get())) {
      refused = dir + " was written during the import (is spa-authd still running on it? stop it first)";
      return TxnEnd::kAbort;
    }
    return TxnEnd::kCommit;
  });
  if (!e.ok()) r.error = e.message;
  else if (!refused.empty()) r.error = refused;
  if (!r.error.empty()) r.rows.fill(0), r.bytes = 0;
  if (!r.error.empty()) return r;
  if (options.max_size && r.bytes > options.max_size)
    r.warnings.push_back("the records imported take " + std::to_string(r.bytes) + " bytes, more than [store] max_size (" +
                         std::to_string(options.max_size) + "): ordinary writes are refused (store_full) until it is raised");
  if (!seed_checked && r.rows[static_cast<int>(Db::kUsers)] > 0)
    r.warnings.push_back("no TOTP seed in the store to check mfa.secret_key_file against: make sure it is the old "
                         "machine's file (backup codes, e-mailed codes and lockouts are keyed by it)");
  return r;
}

}  // namespace spa::authd
