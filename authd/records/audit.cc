#include "authd/records/audit.h"

#include "authd/records/json_fields.h"

namespace spa::authd {

using nlohmann::json;

json AuditRecord::to_object() const {
  json j = public_view();
  records::put_if(j, "subject", subject);
  return j;
}

json AuditRecord::public_view() const {
  json j = unknown;
  j["ts"] = ts;
  j["event"] = event;
  j["request_id"] = request_id;
  return j;
}

std::optional<AuditRecord> AuditRecord::from_object(const json& j) {
  records::FieldReader f(j);
  f.version(kVersion);
  AuditRecord a;
  f.take("ts", a.ts);
  f.take("event", a.event);
  f.take("subject", a.subject);
  f.take("request_id", a.request_id);
  if (!f.ok()) return std::nullopt;
  a.unknown = f.unknown();
  return a;
}

std::string AuditRecord::to_json() const { return records::dump(to_object()); }

std::optional<AuditRecord> AuditRecord::from_json(std::string_view text) { return records::from_text<AuditRecord>(text); }

}  // namespace spa::authd
