#include "authd/records/refresh_successor.h"

#include "authd/records/json_fields.h"

namespace spa::authd {

using nlohmann::json;

json RefreshSuccessor::to_object() const {
  json j = unknown;
  j["access_token"] = access_token;
  j["refresh_token"] = refresh_token;
  records::put_if(j, "expires_at", expires_at);
  return j;
}

std::optional<RefreshSuccessor> RefreshSuccessor::from_object(const json& j) {
  records::FieldReader f(j);
  f.version(kVersion);
  RefreshSuccessor s;
  f.take("access_token", s.access_token);
  f.take("refresh_token", s.refresh_token);
  f.take("expires_at", s.expires_at);
  if (!f.ok()) return std::nullopt;
  s.unknown = f.unknown();
  return s;
}

std::string RefreshSuccessor::to_json() const { return records::dump(to_object()); }

std::optional<RefreshSuccessor> RefreshSuccessor::from_json(std::string_view text) {
  return records::from_text<RefreshSuccessor>(text);
}

}  // namespace spa::authd
