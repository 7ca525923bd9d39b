#include "authd/records/session_meta.h"

#include "authd/records/json_fields.h"

namespace spa::authd {

using nlohmann::json;

json SessionMetaRecord::to_object() const {
  json j = unknown;
  j["created_at"] = created_at;
  j["last_used_at"] = last_used_at;
  j["ip"] = ip;
  j["user_agent"] = user_agent;
  records::put_if(j, "amr", amr);
  records::put_if(j, "auth_time", auth_time);
  return j;
}

std::optional<SessionMetaRecord> SessionMetaRecord::from_object(const json& j) {
  records::FieldReader f(j);
  f.version(kVersion);
  SessionMetaRecord m;
  f.take("created_at", m.created_at);
  f.take("last_used_at", m.last_used_at);
  f.take("ip", m.ip);
  f.take("user_agent", m.user_agent);
  f.take("amr", m.amr);
  f.take("auth_time", m.auth_time);
  if (!f.ok()) return std::nullopt;
  m.unknown = f.unknown();
  return m;
}

std::string SessionMetaRecord::to_json() const { return records::dump(to_object()); }

std::optional<SessionMetaRecord> SessionMetaRecord::from_json(std::string_view text) {
  return records::from_text<SessionMetaRecord>(text);
}

json SessionMetaRecord::public_view(std::string_view sid, bool current, const core::SessionRecord& session,
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
