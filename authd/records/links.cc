#include "authd/records/links.h"

#include "authd/records/json_fields.h"

namespace spa::authd {

using nlohmann::json;

json ResetLinkRecord::to_object() const {
  json j = unknown;
  j["user"] = user;
  j["expires_at"] = expires_at;
  return j;
}

std::optional<ResetLinkRecord> ResetLinkRecord::from_object(const json& j) {
  records::FieldReader f(j);
  f.version(kVersion);
  ResetLinkRecord r;
  f.take("user", r.user);
  f.take("expires_at", r.expires_at);
  if (!f.ok()) return std::nullopt;
  r.unknown = f.unknown();
  return r;
}

std::string ResetLinkRecord::to_json() const { return records::dump(to_object()); }

std::optional<ResetLinkRecord> ResetLinkRecord::from_json(std::string_view text) {
  return records::from_text<ResetLinkRecord>(text);
}

json VerifyLinkRecord::to_object() const {
  json j = unknown;
  j["user"] = user;
  j["email"] = email;
  j["expires_at"] = expires_at;
  return j;
}

std::optional<VerifyLinkRecord> VerifyLinkRecord::from_object(const json& j) {
  records::FieldReader f(j);
  f.version(kVersion);
  VerifyLinkRecord r;
  f.take("user", r.user);
  f.take("email", r.email);
  f.take("expires_at", r.expires_at);
  if (!f.ok()) return std::nullopt;
  r.unknown = f.unknown();
  return r;
}

std::string VerifyLinkRecord::to_json() const { return records::dump(to_object()); }

std::optional<VerifyLinkRecord> VerifyLinkRecord::from_json(std::string_view text) {
  return records::from_text<VerifyLinkRecord>(text);
}

}  // namespace spa::authd
