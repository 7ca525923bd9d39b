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
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/lmdb_handles.h"
#include "core/session_record.h"

namespace spa::authd {

enum class Db {
  kMeta, kUsers, kUsersByEmail, kUsersByName, kSessions, kSessionMeta, kUserSessions, kRefresh, kAudit, kMfaPending,
  kResetTokens, kOAuthStates, kIdentities, kVerifyTokens, kLockouts,
};
inline constexpr int kDbCount = 15;
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
    const std::string& error() const { return err_; }

   private:
    friend class Store;
    Txn(const Store& s, MDB_txn* t) : store_(s), txn_(t) {}
    bool fail(int rc, const char* what) const;
    const Store& store_;
    MDB_txn* txn_;
    mutable std::string err_;
  };

  // Creates the directory (0750) and environment (files 0640, lock file
  // 0660 so nginx's workers can register as readers) when missing; checks
  // the schema version.
  bool open(const std::string& path, std::string& err);

  // Runs fn in a write transaction and commits when fn returns true; true
  // means committed. When fn returns false everything it did is dropped
  // and `err` stays empty, unless an LMDB call failed. Only one write
  // transaction runs at a time (LMDB's writer lock).
  bool write(const std::function<bool(Txn&)>& fn, std::string& err);
  bool read(const std::function<void(const Txn&)>& fn, std::string& err) const;

 private:
  core::LmdbEnv env_;
  MDB_dbi dbis_[kDbCount] = {};
};

// The sessions database's record of `sid`; nullopt when absent or undecodable.
std::optional<core::SessionRecord> load_session(const Store::Txn& t, std::string_view sid);

// A JSON object stored under `key`; nullopt when absent or not an object.
std::optional<nlohmann::json> load_json(const Store::Txn& t, Db db, std::string_view key);

}  // namespace spa::authd
