// A session's metadata (session_meta database, keyed by the session id):
// what the user sees of their sessions, and how the session was
// authenticated, which its refreshed tokens keep saying. Format 1:
//
//   {"created_at", "last_used_at", "ip", "user_agent" (both clipped at a
//    character, ClientInfo's bounds), "amr"? [methods: "pwd", "oauth",
//    "otp"], "auth_time"? (when the user last proved who they are)}
//
// Sessions from before amr and auth_time lack them: their tokens say
// ["pwd"] and the session's created_at (AuthService::access_token).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "authd/records/json_fields.h"
#include "core/session_record.h"

namespace spa::authd {

struct SessionMetaRecord : records::JsonRecord<SessionMetaRecord> {
  static constexpr int kVersion = 1;

  int64_t created_at = 0;
  int64_t last_used_at = 0;
  std::string ip;
  std::string user_agent;
  std::optional<std::vector<std::string>> amr;
  std::optional<int64_t> auth_time;

  // A session as GET /sessions lists it; `meta` null when the session has
  // none (its times then come from the record).
  static nlohmann::json public_view(std::string_view sid, bool current, const core::SessionRecord& session,
                                    const SessionMetaRecord* meta);

  template <class Self, class Fields>
  static void fields(Self& r, Fields& f) {
    f("created_at", r.created_at);
    f("last_used_at", r.last_used_at);
    f("ip", r.ip);
    f("user_agent", r.user_agent);
    f("amr", r.amr);
    f("auth_time", r.auth_time);
  }
};

}  // namespace spa::authd
