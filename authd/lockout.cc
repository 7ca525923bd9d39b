// Lockouts (SessionIssuer), counted per e-mail address in the lockouts
// database. The same record exists for an address without an account, so
// the fifth wrong password of a stranger's address answers exactly as that
// of a known one (423, the same Retry-After): the lockout is not an
// account oracle.
//
// Record: {"failures": N, "lockouts": N, "locked_until": T, "expires_at": T}
// keyed by HMAC(mfa key, "lockout:" + folded e-mail), so the store holds no
// address of a stranger; swept once expires_at passes.
#include "authd/crypto.h"
#include "authd/passwords.h"
#include "authd/session_issuer.h"

namespace spa::authd {
namespace {

using json = nlohmann::json;

Outcome account_locked(int64_t retry_after) {
  return Outcome::error(Errc::kAccountLocked, "too many failed attempts; try again later", retry_after);
}

}  // namespace

std::string SessionIssuer::lockout_key(const std::string& email) const {
  return hex(hmac_sha256(mfa_key_, "lockout:" + fold(email)));
}

std::optional<Outcome> SessionIssuer::locked_out(const Store::Txn& t, const std::string& email, int64_t now) const {
  auto record = load_json(t, Db::kLockouts, lockout_key(email));
  int64_t until = record ? record->value("locked_until", int64_t{0}) : 0;
  if (until <= now) return std::nullopt;
  return account_locked(until - now);
}

Outcome SessionIssuer::record_failure(Store::Txn& t, const std::string& email, const json* user,
                                      const ClientInfo& client, int64_t now, Errc code, const std::string& message) {
  std::string key = lockout_key(email);
  json record = load_json(t, Db::kLockouts, key).value_or(json::object());
  int failures = record.value("failures", 0) + 1;
  int lockouts = record.value("lockouts", 0);
  // A lockout long past no longer doubles the next one.
  if (record.value("expires_at", int64_t{0}) <= now) failures = 1, lockouts = 0;
  Outcome result = Outcome::error(code, message);
  int64_t locked_until = record.value("locked_until", int64_t{0});
  if (failures >= kFailuresBeforeLock) {
    int64_t lock = std::min<int64_t>(int64_t{60} << std::min(lockouts, 6), 3600);
    locked_until = now + lock;
    lockouts += 1;
    failures = 0;
    result = account_locked(lock);
    if (user) audit(t, "account_locked", *user, client, now);
  }
  record = {{"failures", failures},
            {"lockouts", lockouts},
            {"locked_until", locked_until},
            {"expires_at", std::max(locked_until, now) + kLockoutMemory}};
  if (user) audit(t, code == Errc::kInvalidCode ? "mfa_code_failed" : "login_failed", *user, client, now);
  if (!t.put(Db::kLockouts, key, record.dump())) return store_failure(t.error());
  return result;
}

bool SessionIssuer::clear_failures(Store::Txn& t, const std::string& email) {
  return t.del(Db::kLockouts, lockout_key(email));
}

}  // namespace spa::authd
