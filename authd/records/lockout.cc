#include "authd/records/lockout.h"

#include "authd/records/json_fields.h"

namespace spa::authd {

using nlohmann::json;

json LockoutRecord::to_object() const {
  json j = unknown;
  j["failures"] = failures;
  j["lockouts"] = lockouts;
  j["locked_until"] = locked_until;
  j["expires_at"] = expires_at;
  return j;
}

std::optional<LockoutRecord> LockoutRecord::from_object(const json& j) {
  records::FieldReader f(j);
  f.version(kVersion);
  LockoutRecord r;
  f.take("failures", r.failures);
  f.take("lockouts", r.lockouts);
  f.take("locked_until", r.locked_until);
  f.take("expires_at", r.expires_at);
  if (!f.ok()) return std::nullopt;
  r.unknown = f.unknown();
  return r;
}

std::string LockoutRecord::to_json() const { return records::dump(to_object()); }

std::optional<LockoutRecord> LockoutRecord::from_json(std::string_view text) {
  return records::from_text<LockoutRecord>(text);
}

}  // namespace spa::authd
