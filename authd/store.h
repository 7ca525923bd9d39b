// spa-authd's store: the interface the services write through, whatever
// keeps the data. LmdbStore (authd/lmdb_store.h) is today's backend; a
// PostgreSQL one (issue 18) implements the same virtual functions (run_write,
// run_read, usage, metrics, and Txn's load, save, remove, each) and calls
// prepare_schema at open, and nothing above this header changes.
//
// The model, so that any backend can keep it: a fixed set of tables (Db),
// each an ordered map from keys of 1 to kMaxKeyBytes bytes to values of any
// bytes. Keys order as unsigned bytes (memcmp, a prefix before its
// extensions); scans go by value (a prefix, or every key from one on), never
// by a cursor a caller holds. Every change is one transaction that commits
// whole, durably, before transact() returns, or not at all.
//
// Tables (key -> value; the JSON records are typed in authd/records/,
// docs/authd.md "Store" has one line each):
//   meta           "schema_version" -> "1", "indexes" -> "2", "timing_pad" -> ""
//   users          user id (hex)                -> UserRecord
//   users_by_email case-folded e-mail           -> user id
//   users_by_name  case-folded username         -> user id
//   sessions       session id (the JWT's sid)   -> core::SessionRecord (binary; the module reads it;
//                                                  the name and format are core/session_record.h's)
//   session_meta   session id                   -> SessionMetaRecord (client address, user agent, amr)
//   user_sessions  user id ":" session id       -> ""
//   refresh        SHA-256(refresh token)       -> RefreshRecord (authd/refresh_rotation.h)
//   audit          big-endian time ns + seq     -> AuditRecord (no personal data)
//   mfa_pending    SHA-256(mfa_token)           -> MfaPendingRecord: logins waiting for a second factor
//   reset_tokens   SHA-256(reset token)         -> ResetLinkRecord: password-reset links
//   oauth_states   expiry (8 bytes, big-endian) + SHA-256(state)
//                                               -> OAuthStateRecord: OAuth logins under way; the
//                                                  nonce, PKCE verifier and target sealed under a
//                                                  key derived from the browser's binding cookie
//   identities     provider ":" subject         -> user id: accounts at OAuth/OIDC providers
//   verify_tokens  SHA-256(verification token)  -> VerifyLinkRecord: e-mail verification links
//   lockouts       HMAC(mfa key, folded e-mail) -> LockoutRecord: failed secrets per address, known
//                                                  or not, so a lockout tells nothing about whether
//                                                  an account exists
//   session_refresh session id + SHA-256(refresh token) -> "": a session's refresh records
//   user_records   user id + one letter (the table) + key -> "": a user's records in
//                                                  mfa_pending (m), reset_tokens (r), ...
//   user_audit     audit_id + audit key         -> "": a user's audit events
//   unverified     big-endian unverified_erase_at (8 bytes) + user id -> "": the accounts
//                                                  PrivacyService::sweep_unverified erases,
//                                                  due first (UserRecord::unverified_sweep_at)
//
// Size: ordinary writes (sign-up, login, rotation, ...) are refused with
// Errc::kStoreFull once the data passes `max_size`; revocation-class
// writes (logout, revocation, disable, reuse detection, deletion,
// sweeping) always run, growing the store only where Txn::over_limit
// allows, so a full store can always still end a session (docs/authd.md,
// "Store").
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "authd/errors.h"
#include "authd/records/user.h"
#include "core/session_record.h"

namespace spa::authd {

enum class Db {
  kMeta, kUsers, kUsersByEmail, kUsersByName, kSessions, kSessionMeta, kUserSessions, kRefresh, kAudit, kMfaPending,
  kResetTokens, kOAuthStates, kIdentities, kSessionRefresh, kUserRecords, kUserAudit, kVerifyTokens, kLockouts,
  kUnverified,
};
inline constexpr int kDbCount = 19;
inline constexpr const char* kSchemaVersion = "1";
// LMDB's bound, kept by every backend so that a key works in all of them.
inline constexpr size_t kMaxKeyBytes = 511;

// The table's name (an LMDB named database; a SQL table). sessions is
// core::kSessionsDb: the module opens it by that name.
const char* db_name(Db db);

// What a transaction's function decides: keep what it did, or drop it.
enum class TxnEnd { kCommit, kAbort };
// kCommit when every write of a chain went (`put(a) && put(b)`); when one
// failed, kAbort, and transact() answers that failure whatever fn says.
inline TxnEnd commit_if(bool all_written) { return all_written ? TxnEnd::kCommit : TxnEnd::kAbort; }

class Store {
 public:
  enum class WriteKind {
    kOrdinary,    // refused (kStoreFull) once the store is past max_size
    kRevocation,  // always runs: ends sessions, deletes; grows only by what Txn::over_limit allows
  };

  // One transaction's view of the tables. The primitives are the
  // backend's; the rules around them (unusable keys, the first failure
  // kept) are here, the same for every backend.
  class Txn {
   public:
    using Visit = std::function<bool(std::string_view key, std::string_view value)>;

    // nullopt when absent (or the key cannot exist); a failure is kept in error().
    std::optional<std::string> get(Db db, std::string_view key) const;
    bool put(Db db, std::string_view key, std::string_view value);
    // True when the key is gone (absent already included).
    bool del(Db db, std::string_view key);
    // Calls fn(key, value) for every key starting with prefix, in order,
    // until fn returns false. False only when the backend failed.
    bool scan(Db db, std::string_view prefix, const Visit& fn) const;
    // Like scan without a prefix, from the first key >= `from`.
    bool scan_from(Db db, std::string_view from, const Visit& fn) const;

    // A JSON record (authd/records/, RefreshRecord) under `key`: nullopt
    // when absent, or not R's format (a record that does not decode is
    // read as none, never half).
    template <class R>
    std::optional<R> get_record(Db db, std::string_view key) const {
      auto text = get(db, key);
      return text ? R::from_json(*text) : std::nullopt;
    }
    template <class R>
    bool put_record(Db db, std::string_view key, const R& record) {
      return put(db, key, record.to_json());
    }

    // The first failed call of this transaction (ok while none failed).
    // Any failure means transact() commits nothing and answers it.
    const Error& error() const { return error_; }
    // In a revocation-class write: true when the store is past max_size,
    // so whatever would grow it (a rotation, an audit event) must not.
    bool over_limit() const { return over_limit_; }
    // Ends the transaction's work with kStoreFull (return its result).
    bool refuse_full();
    // Runs fn once this transaction's work is durable, never when it is
    // dropped or fails: for what must count only a write that landed (a
    // metric). fn may run on another caller's thread (the group commit's
    // leader) and must not throw; a function run twice (a write tried
    // again) registers it again, and only the run that commits calls it.
    void after_commit(std::function<void()> fn) { after_commit_.push_back(std::move(fn)); }
    // The write is answered only once this node's nginx sees every session
    // as committed now, though it changed none itself: a revocation that
    // found the session already ended (on another node, perhaps, whose
    // change may not have reached this node's mirror yet). Nothing to wait
    // for where the store and the mirror commit together (LMDB).
    void await_mirror() { await_mirror_ = true; }
    bool awaits_mirror() const { return await_mirror_; }

   protected:
    explicit Txn(bool over_limit) : over_limit_(over_limit) {}
    ~Txn() = default;
    Txn(const Txn&) = delete;
    Txn& operator=(const Txn&) = delete;
    // Records a failure (only the first is kept: later ones are often its
    // consequence); returns false for the caller to return.
    bool fail(Errc code, std::string message) const;

    // The backend's primitives, for keys already known to be usable.
    virtual std::optional<std::string> load(Db db, std::string_view key) const = 0;
    virtual bool save(Db db, std::string_view key, std::string_view value) = 0;
    virtual bool remove(Db db, std::string_view key) = 0;
    // Every key >= from that starts with prefix, in order, until fn says stop.
    virtual bool each(Db db, std::string_view from, std::string_view prefix, const Visit& fn) const = 0;

    // What after_commit registered, for the backend to run after its commit.
    std::vector<std::function<void()>> take_after_commit() { return std::move(after_commit_); }

   private:
    mutable Error error_;
    bool over_limit_ = false;
    std::vector<std::function<void()>> after_commit_;
    bool await_mirror_ = false;
  };

  // What the store takes, for /metrics and the 80 % warning (LMDB's terms;
  // another backend fills what it can measure).
  struct Usage {
    uint64_t used_bytes = 0;  // what the data takes (LMDB: pages in use, free pages not counted)
    uint64_t file_bytes = 0;  // the files' high-water mark
    uint64_t max_bytes = 0;   // [store] max_size
    uint64_t map_bytes = 0;   // max_size + the revocation reserve
  };
  static constexpr uint64_t kDefaultMaxSize = uint64_t{1} << 30;

  virtual ~Store() = default;
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Runs fn in a write transaction, as if one after another. A backend
  // may run several callers' functions in one commit (LMDB's group
  // commit), on whichever caller's thread leads it: fn must not depend on
  // the thread it runs on (what it throws is thrown again in the caller's).
  // transact() returns only once fn's work is durable. fn's answer decides:
  // kCommit keeps what it did, kAbort drops it and the result is ok. Any
  // failed Txn call inside (a backend error, the store full, the file
  // replaced) drops everything and is the result, whatever fn answered.
  // kStoreFull also before fn runs, for an ordinary write past max_size;
  // kStoreReplaced when the data file was replaced underneath (a restore
  // while spa-authd runs: the write would land in the deleted file).
  Error transact(const std::function<TxnEnd(Txn&)>& fn, WriteKind kind = WriteKind::kOrdinary) {
    return run_write(fn, kind);
  }
  // Runs fn in a read transaction (a snapshot; many at once); the result
  // is the first failed Txn call, if any.
  Error view(const std::function<void(const Txn&)>& fn) const { return run_read(fn); }

  virtual Usage usage() const = 0;
  // Prometheus text: spa_authd_store_used_bytes, _file_bytes, _max_bytes.
  virtual std::string metrics() const = 0;

  // A duty that one process of all that share the store does at a time
  // (the sweeper): true when this caller is to do `name` now, that is when
  // no one claimed it within the last `every` seconds. A store of one
  // machine (LMDB) has one daemon: always true.
  virtual bool claim_duty(const std::string& name, int64_t every) {
    (void)name, (void)every;
    return true;
  }

 protected:
  Store() = default;
  virtual Error run_write(const std::function<TxnEnd(Txn&)>& fn, WriteKind kind) = 0;
  virtual Error run_read(const std::function<void(const Txn&)>& fn) const = 0;
};

// What every backend does in its first write transaction at open: checks
// (or, in an empty store, writes) meta/schema_version, and indexes a store
// made before its indexes existed (meta/indexes: absent before
// session_refresh, user_records and user_audit; "1" before unverified). ""
// when it went well, else why not (the store must not be used).
std::string prepare_schema(Store::Txn& t, const std::string& where);

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

// Whose record of a UserTable `value` is and when it expires, read as the
// table's record (MfaPendingRecord, ResetLinkRecord, VerifyLinkRecord);
// nullopt when it does not decode.
struct OwnedRecord {
  std::string user;
  int64_t expires_at = 0;
};
std::optional<OwnedRecord> owned_record(Db db, std::string_view value);

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

// The users table through UserRecord, with the unverified index kept in
// step with every record written (so no writer can forget it).
std::optional<UserRecord> load_user(const Store::Txn& t, std::string_view id);
bool save_user(Store::Txn& t, const UserRecord& u);
// The stored record and its unverified entry (users_by_email, _by_name
// and the identities are the caller's: erasure deletes them itself).
bool delete_user(Store::Txn& t, std::string_view id);
// The unverified key of an account due for erasure at `erase_at`.
std::string unverified_key(int64_t erase_at, std::string_view user_id);
// The erase_at of an unverified key.
int64_t unverified_due(std::string_view key);

}  // namespace spa::authd
