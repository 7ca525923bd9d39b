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

#include "core/session_record.h"

namespace spa::authd {

struct SessionMetaRecord {
  static constexpr int kVersion = 1;

  int64_t created_at = 0;
  int64_t last_used_at = 0;
  std::string ip;
  std::string user_agent;
  std::optional<std::vector<std::string>> amr;
  std::optional<int64_t> auth_time;
  nlohmann::json unknown = nlohmann::json::object();  // fields this format does not know, kept as they were

  std::string to_json() const;
  static std::optional<SessionMetaRecord> from_json(std::string_view text);
  nlohmann::json to_object() const;
  static std::optional<SessionMetaRecord> from_object(const nlohmann::json& j);

  // A session as GET /sessions lists it; `meta` null when the session has
  // none (its times then come from the record).
  static nlohmann::json public_view(std::string_view sid, bool current, const core::SessionRecord& session,
                                    const SessionMetaRecord* meta);
};

}  // namespace spa::authd
