// Lockouts (SessionIssuer), counted per e-mail address in the lockouts
// database. The same record exists for an address without an account, so
// the fifth wrong password of a stranger's address answers exactly as that
// of a known one (423, the same Retry-After): the lockout is not an
// account oracle.
//
// Record: LockoutRecord (authd/records/lockout.h), keyed by HMAC(mfa key,
// "lockout:" + folded e-mail), so the store holds no address of a
// stranger; swept once expires_at passes.
#include <algorithm>

#include "authd/crypto.h"
#include "authd/metrics.h"
#include "authd/passwords.h"
#include "authd/records/lockout.h"
#include "authd/session_issuer.h"

namespace spa::authd {
namespace {

Outcome account_locked(int64_t retry_after) {
  return Outcome::error(Errc::kAccountLocked, "too many failed attempts; try again later", retry_after);
}

// How long the lock after `earlier` lockouts lasts: 60 s, doubling, at
// most an hour.
int64_t lock_seconds(int earlier) { return std::min<int64_t>(int64_t{60} << std::clamp(earlier, 0, 6), 3600); }

}  // namespace

std::string SessionIssuer::lockout_key(const std::string& email) const {
  return hex(hmac_sha256(mfa_key_, "lockout:" + fold(email)));
}

std::optional<Outcome> SessionIssuer::locked_out(const Store::Txn& t, const std::string& email, int64_t now) const {
  auto record = t.get_record<LockoutRecord>(Db::kLockouts, lockout_key(email));
  int64_t until = record ? record->locked_until : 0;
  if (until <= now) return std::nullopt;
  // A lock ends at most its own length after it began: an end further
  // ahead can only come from a clock that went back, which must not hold
  // the address for the size of the step. Such a lock is over (its count
  // of lockouts stays, so the next one is the longer one).
  if (until - now > lock_seconds(record->lockouts - 1)) return std::nullopt;
  return account_locked(until - now);
}

Outcome SessionIssuer::record_failure(Store::Txn& t, const std::string& email, const UserRecord* user,
                                      const ClientInfo& client, int64_t now, Errc code, const std::string& message) {
  std::string key = lockout_key(email);
  LockoutRecord before = t.get_record<LockoutRecord>(Db::kLockouts, key).value_or(LockoutRecord{});
  int failures = before.failures + 1;
  int lockouts = before.lockouts;
  // A lockout long past no longer doubles the next one.
  if (before.expires_at <= now) failures = 1, lockouts = 0;
  Outcome result = Outcome::error(code, message);
  int64_t locked_until = before.locked_until;
  if (failures >= kFailuresBeforeLock) {
    int64_t lock = lock_seconds(lockouts);
    locked_until = now + lock;
    lockouts += 1;
    failures = 0;
    result = account_locked(lock);
    // Counted once the lockout is stored (a write that fails is no lockout).
    t.after_commit([] { metrics::count(metrics::Family::kLockouts); });
    if (user) audit(t, "account_locked", *user, client, now);
  }
  // A new record (what it held besides the counts is not kept).
  LockoutRecord record;
  record.failures = failures;
  record.lockouts = lockouts;
  record.locked_until = locked_until;
  record.expires_at = std::max(locked_until, now) + kLockoutMemory;
  if (user) audit(t, code == Errc::kInvalidCode ? "mfa_code_failed" : "login_failed", *user, client, now);
  // A failed write is the transaction's result (transact answers it).
  if (!t.put_record(Db::kLockouts, key, record)) return store_failure(t.error());
  return result;
}

bool SessionIssuer::clear_failures(Store::Txn& t, const std::string& email) {
  return t.del(Db::kLockouts, lockout_key(email));
}

}  // namespace spa::authd
