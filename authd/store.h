// spa-authd's LMDB store. One environment ([store] path), written only by
// spa-authd; every change happens in one write transaction, committed
// synchronously (LMDB's default), so `kill -9` loses nothing committed and
// never leaves half a change.
//
// Databases:
//   meta           "schema_version" -> "1"
//   users          user id (hex)                -> user JSON
//   users_by_email case-folded e-mail           -> user id
//   users_by_name  case-folded username         -> user id
//   sessions       session id (the JWT's sid)   -> core::SessionRecord (binary; the module reads it)
//   session_meta   session id                   -> JSON (client address, user agent, last use)
//   user_sessions  user id ":" session id       -> ""
//   refresh        SHA-256(refresh token)       -> refresh record JSON
//   audit          big-endian time ns + seq     -> event JSON (no personal data)
//   mfa_pending    SHA-256(mfa_token)           -> {user, expires_at, attempts}: logins waiting for a second factor
//   reset_tokens   SHA-256(reset token)         -> {user, expires_at}: password-reset links
//   oauth_states   expiry (8 bytes, big-endian) + SHA-256(state)
//                                               -> {provider, box}: OAuth logins under way; the
//                                                  nonce, PKCE verifier and target sealed under a
//                                                  key derived from the browser's binding cookie
//   identities     provider ":" subject         -> user id: accounts at OAuth/OIDC providers
//   verify_tokens  SHA-256(verification token)  -> {user, email, expires_at}: e-mail verification links
//   lockouts       HMAC(mfa key, folded e-mail) -> {failures, lockouts, locked_until, expires_at}:
//                                                  failed secrets per address, known or not, so a
//                                                  lockout tells nothing about whether an account exists
//   session_refresh session id + SHA-256(refresh token) -> "": a session's refresh records
//   user_records   user id + one letter (the table) + key -> "": a user's records in
//                                                  mfa_pending (m), reset_tokens (r), ...
//   user_audit     audit_id + audit key         -> "": a user's audit events
//
// Size: ordinary writes (sign-up, login, rotation, ...) are refused with
// kFullError once the data passes `max_size`; the map is larger by a
// reserve that only revocation-class writes (logout, revocation, disable,
// reuse detection, deletion, sweeping) may use, so a full store can always
// still end a session (docs/authd.md, "Store").
#pragma once

#include <sys/types.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/lmdb_handles.h"
#include "core/session_record.h"

namespace spa::authd {

enum class Db {
  kMeta, kUsers, kUsersByEmail, kUsersByName, kSessions, kSessionMeta, kUserSessions, kRefresh, kAudit, kMfaPending,
  kResetTokens, kOAuthStates, kIdentities, kSessionRefresh, kUserRecords, kUserAudit, kVerifyTokens, kLockouts,
};
inline constexpr int kDbCount = 18;
inline constexpr const char* kSchemaVersion = "1";

class Store {
 public:
  class Txn {
   public:
    std::optional<std::string> get(Db db, std::string_view key) const;
    bool put(Db db, std::string_view key, std::string_view value);
    bool del(Db db, std::string_view key);
    // Calls fn(key, value) for every key starting with prefix, in order,
    // until fn returns false.
    bool scan(Db db, std::string_view prefix,
              const std::function<bool(std::string_view, std::string_view)>& fn) const;
    // Like scan without a prefix, from the first key >= `from`.
    bool scan_from(Db db, std::string_view from,
                   const std::function<bool(std::string_view, std::string_view)>& fn) const;
    const std::string& error() const { return err_; }
    // In a revocation-class write: true when the store is past max_size,
    // so whatever would grow it (a rotation, an audit event) must not.
    bool over_limit() const { return over_limit_; }
    // Ends the transaction's work with kFullError (return its result).
    bool refuse_full() {
      err_ = kFullError;
      return false;
    }

   private:
    friend class Store;
    Txn(const Store& s, MDB_txn* t) : store_(s), txn_(t) {}
    bool fail(int rc, const char* what) const;
    const Store& store_;
    MDB_txn* txn_;
    mutable std::string err_;
    bool over_limit_ = false;
  };

  // The error of a write refused because the store is full.
  static constexpr const char* kFullError = "store_full";
  // The error of a write after data.mdb was replaced underneath (a restore
  // while spa-authd runs): it would land in the deleted file, so nothing is
  // written until spa-authd is restarted on the new one.
  static constexpr const char* kReplacedError = "store_replaced";
  static constexpr uint64_t kDefaultMaxSize = uint64_t{1} << 30;
  // Address space beyond max_size that only revocation-class writes use.
  static uint64_t reserve_for(uint64_t max_size) { return std::max<uint64_t>(max_size / 4, uint64_t{4} << 20); }

  enum class WriteKind {
    kOrdinary,    // refused (kFullError) once the store is past max_size
    kRevocation,  // always runs: ends sessions, deletes; grows only by what Txn::over_limit allows
  };

  struct Usage {
    uint64_t used_bytes = 0;  // pages holding data (free pages not counted)
    uint64_t file_bytes = 0;  // the file's high-water mark
    uint64_t max_bytes = 0;   // [store] max_size
    uint64_t map_bytes = 0;   // max_size + the revocation reserve
  };

  // Creates the directory (0750) and environment (files 0640, lock file
  // 0660 so nginx's workers can register as readers) when missing; checks
  // the schema version.
  // Also clears reader slots left by dead processes (mdb_reader_check),
  // and replaces a lock file that belongs to another data file (a store
  // restored by renaming over data.mdb while nginx kept the old lock).
  bool open(const std::string& path, std::string& err, uint64_t max_size = kDefaultMaxSize);

  // Runs fn in a write transaction and commits when fn returns true; true
  // means committed. When fn returns false everything it did is dropped
  // and `err` stays empty, unless an LMDB call failed (or the store is
  // full: kFullError). Only one write transaction runs at a time (LMDB's
  // writer lock).
  bool write(const std::function<bool(Txn&)>& fn, std::string& err, WriteKind kind = WriteKind::kOrdinary);
  bool read(const std::function<void(const Txn&)>& fn, std::string& err) const;

  Usage usage() const;
  // Prometheus text: spa_authd_store_used_bytes, _file_bytes, _max_bytes.
  std::string metrics() const;

 private:
  uint64_t used_bytes(MDB_txn* txn) const;
  Usage usage_in(MDB_txn* txn) const;
  bool past_limit(const Usage& u) const;
  void note_usage(const Usage& u) const;

  core::LmdbEnv env_;
  MDB_dbi dbis_[kDbCount] = {};
  std::string path_;
  uint64_t max_size_ = kDefaultMaxSize;
  uint64_t map_size_ = 0;
  mutable std::atomic<bool> warned_{false};
  mutable std::atomic<bool> full_logged_{false};  // "store_full" is said once per episode
  mutable std::atomic<bool> replaced_logged_{false};
  dev_t data_dev_ = 0;
  ino_t data_ino_ = 0;
  bool data_file_replaced() const;
};

// The sessions database's record of `sid`; nullopt when absent or undecodable.
std::optional<core::SessionRecord> load_session(const Store::Txn& t, std::string_view sid);

// The 80 % warning: true once when `used` crosses 80 % of `max` upwards;
// re-armed when it falls under 75 % (so it is said once per crossing).
bool crossed_warning(std::atomic<bool>& warned, uint64_t used, uint64_t max);

// Tables whose records belong to a user and expire, with the value shape
// {"user": ID, "expires_at": T, ...}: indexed in user_records (so erasure
// and "every link of this user" need no scan) and swept once expired.
// One line per table.
struct UserTable {
  Db db;
  char tag;          // the table's letter in user_records keys
  const char* name;  // for logs
};
inline constexpr UserTable kUserTables[] = {
    {Db::kMfaPending, 'm', "mfa_pending"},
    {Db::kResetTokens, 'r', "reset_tokens"},
    {Db::kVerifyTokens, 'v', "verify_tokens"},
};

// A commit with nothing to say (meta "timing_pad"): for answers that must
// take as long whether or not they stored something.
inline bool timing_pad(Store::Txn& t) { return t.put(Db::kMeta, "timing_pad", ""); }

// Stores a record of `user_id` in a UserTable, with its index entry.
bool put_user_record(Store::Txn& t, Db db, std::string_view key, const std::string& user_id, std::string_view value);
// Every key `user_id` has in that table (from the index; some may be gone).
std::vector<std::string> user_record_keys(const Store::Txn& t, Db db, const std::string& user_id);
// Deletes them all, with their index entries.
bool delete_user_records(Store::Txn& t, Db db, const std::string& user_id);
// The user_records key of a record.
std::string user_record_index_key(Db db, const std::string& user_id, std::string_view key);

// A JSON object stored under `key`; nullopt when absent or not an object.
std::optional<nlohmann::json> load_json(const Store::Txn& t, Db db, std::string_view key);

}  // namespace spa::authd
