// Mailed single-use links, stored as SHA-256 of their 256-bit token and
// indexed in user_records (kUserTables). Format 1:
//
//   reset_tokens   ResetLinkRecord  {"user", "expires_at"}           (30 minutes)
//   verify_tokens  VerifyLinkRecord {"user", "email", "expires_at"}  (24 hours; `email`:
//                                   the address it was mailed to, which it proves)
#pragma once

#include <cstdint>
#include <string>

#include "authd/records/json_fields.h"

namespace spa::authd {

struct ResetLinkRecord : records::JsonRecord<ResetLinkRecord> {
  static constexpr int kVersion = 1;

  std::string user;
  int64_t expires_at = 0;

  template <class Self, class Fields>
  static void fields(Self& r, Fields& f) {
    f("user", r.user);
    f("expires_at", r.expires_at);
  }
};

struct VerifyLinkRecord : records::JsonRecord<VerifyLinkRecord> {
  static constexpr int kVersion = 1;

  std::string user;
  std::string email;
  int64_t expires_at = 0;

  template <class Self, class Fields>
  static void fields(Self& r, Fields& f) {
    f("user", r.user);
    f("email", r.email);
    f("expires_at", r.expires_at);
  }
};

}  // namespace spa::authd
