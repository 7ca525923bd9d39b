// The user (32 hex digits) a stored session belongs to, as a token of that
// session names it in `sub`: what the tests pass to SessionReader::check
// when they ask what the module sees of a session. "" when there is none.
#pragma once

#include <cstdint>
#include <string>

#include "authd/store.h"
#include "core/session_record.h"

inline std::string session_user(spa::authd::Store& store, const std::string& sid) {
  std::string hex;
  store.view([&](const spa::authd::Store::Txn& t) {
    if (auto v = t.get(spa::authd::Db::kSessions, sid))
      if (auto rec = spa::core::SessionRecord::decode(*v))
        for (uint8_t b : rec->user_id) {
          hex += "0123456789abcdef"[b >> 4];
          hex += "0123456789abcdef"[b & 0xf];
        }
  });
  return hex;
}
