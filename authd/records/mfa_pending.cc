#include "authd/records/mfa_pending.h"

#include "authd/records/json_fields.h"

namespace spa::authd {

using nlohmann::json;

json MfaPendingRecord::to_object() const {
  json j = unknown;
  j["user"] = user;
  j["expires_at"] = expires_at;
  j["attempts"] = attempts;
  records::put_if(j, "amr", amr);
  records::put_if(j, "epoch", epoch);
  records::put_if(j, "email_code", email_code);
  return j;
}

std::optional<MfaPendingRecord> MfaPendingRecord::from_object(const json& j) {
  records::FieldReader f(j);
  f.version(kVersion);
  MfaPendingRecord p;
  f.take("user", p.user);
  f.take("expires_at", p.expires_at);
  f.take("attempts", p.attempts);
  f.take("amr", p.amr);
  f.take("epoch", p.epoch);
  f.take("email_code", p.email_code);
  if (!f.ok()) return std::nullopt;
  p.unknown = f.unknown();
  return p;
}

std::string MfaPendingRecord::to_json() const { return records::dump(to_object()); }

std::optional<MfaPendingRecord> MfaPendingRecord::from_json(std::string_view text) {
  return records::from_text<MfaPendingRecord>(text);
}

}  // namespace spa::authd
