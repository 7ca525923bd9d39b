// A login waiting for its second factor (mfa_pending database, keyed by
// SHA-256 of the mfa_token the client holds; indexed in user_records).
// Format 1:
//
//   {"user", "expires_at", "attempts" (wrong codes so far), "amr"? (the
//    first factor: ["pwd"] or ["oauth"]), "epoch"? (the account's
//    credential epoch when the first factor passed), "email_code"? (keyed
//    hash of the code mailed for this login, e-mail method)}
//
// Records from before amr and epoch lack them (["pwd"] and 0 then).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "authd/records/json_fields.h"

namespace spa::authd {

struct MfaPendingRecord : records::JsonRecord<MfaPendingRecord> {
  static constexpr int kVersion = 1;

  std::string user;
  int64_t expires_at = 0;
  int attempts = 0;
  std::optional<std::vector<std::string>> amr;
  std::optional<int64_t> epoch;
  std::optional<std::string> email_code;

  template <class Self, class Fields>
  static void fields(Self& r, Fields& f) {
    f("user", r.user);
    f("expires_at", r.expires_at);
    f("attempts", r.attempts);
    f("amr", r.amr);
    f("epoch", r.epoch);
    f("email_code", r.email_code);
  }
};

}  // namespace spa::authd
