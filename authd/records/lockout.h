// Failed secrets per e-mail address (lockouts database, keyed by
// HMAC(mfa key, "lockout:" + folded address), so the store holds no
// address of a stranger; the same record exists for addresses without an
// account). Format 1:
//
//   {"failures" (in a row, since the last lockout), "lockouts" (so far;
//    each doubles the next), "locked_until", "expires_at" (forgotten then;
//    swept)}
#pragma once

#include <cstdint>

#include "authd/records/json_fields.h"

namespace spa::authd {

struct LockoutRecord : records::JsonRecord<LockoutRecord> {
  static constexpr int kVersion = 1;

  int failures = 0;
  int lockouts = 0;
  int64_t locked_until = 0;
  int64_t expires_at = 0;

  template <class Self, class Fields>
  static void fields(Self& r, Fields& f) {
    f("failures", r.failures);
    f("lockouts", r.lockouts);
    f("locked_until", r.locked_until);
    f("expires_at", r.expires_at);
  }
};

}  // namespace spa::authd
