#include "authd/records/session_meta.h"

namespace spa::authd {

nlohmann::json SessionMetaRecord::public_view(std::string_view sid, bool current, const core::SessionRecord& session,
                                              const SessionMetaRecord* meta) {
  return {{"id", sid},
          {"current", current},
          {"created_at", session.created_at},
          {"expires_at", session.expires_at},
          {"last_used_at", meta ? meta->last_used_at : session.created_at},
          {"ip", meta ? meta->ip : ""},
          {"user_agent", meta ? meta->user_agent : ""}};
}

}  // namespace spa::authd
