// The user (32 hex digits) a stored session belongs to, as a token of that
// session names it in `sub`: what the tests pass to SessionReader::check
// when they ask what the module sees of a session. "" when there is none.
#pragma once

#include <string>

#include "authd/crypto.h"
#include "authd/store.h"
#include "core/session_record.h"

inline std::string session_user(spa::authd::Store& store, const std::string& sid) {
  std::string hex;
  store.view([&](const spa::authd::Store::Txn& t) {
    if (auto v = t.get(spa::authd::Db::kSessions, sid))
      if (auto rec = spa::core::SessionRecord::decode(*v))
        hex = spa::authd::hex({reinterpret_cast<const char*>(rec->user_id.data()), rec->user_id.size()});
  });
  return hex;
}
