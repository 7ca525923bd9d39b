#include "authd/records/user.h"

#include "authd/records/json_fields.h"

namespace spa::authd {

using nlohmann::json;
using records::FieldReader;

json UserRecord::Identity::to_object() const {
  json j = unknown;
  j["provider"] = provider;
  j["subject"] = subject;
  j["email"] = email;
  j["linked_at"] = linked_at;
  return j;
}

std::optional<UserRecord::Identity> UserRecord::Identity::from_object(const json& j) {
  FieldReader f(j);
  Identity i;
  f.take("provider", i.provider);
  f.take("subject", i.subject);
  f.take("email", i.email);
  f.take("linked_at", i.linked_at);
  if (!f.ok()) return std::nullopt;
  i.unknown = f.unknown();
  return i;
}

json UserRecord::EmailCode::to_object() const {
  json j = unknown;
  j["hash"] = hash;
  j["expires_at"] = expires_at;
  return j;
}

std::optional<UserRecord::EmailCode> UserRecord::EmailCode::from_object(const json& j) {
  FieldReader f(j);
  EmailCode c;
  f.take("hash", c.hash);
  f.take("expires_at", c.expires_at);
  if (!f.ok()) return std::nullopt;
  c.unknown = f.unknown();
  return c;
}

json UserRecord::Mfa::to_object() const {
  json j = unknown;
  j["enabled"] = enabled;
  records::put_if(j, "method", method);
  records::put_if(j, "pending", pending);
  records::put_if(j, "secret", secret);
  records::put_if(j, "last_step", last_step);
  records::put_if(j, "enabled_at", enabled_at);
  records::put_if(j, "backup", backup);
  records::put_record_if(j, "email_code", email_code);
  return j;
}

std::optional<UserRecord::Mfa> UserRecord::Mfa::from_object(const json& j) {
  FieldReader f(j);
  Mfa m;
  f.take("enabled", m.enabled);
  f.take("method", m.method);
  f.take("pending", m.pending);
  f.take("secret", m.secret);
  f.take("last_step", m.last_step);
  f.take("enabled_at", m.enabled_at);
  f.take("backup", m.backup);
  f.take_record("email_code", m.email_code);
  if (!f.ok()) return std::nullopt;
  m.unknown = f.unknown();
  return m;
}

json UserRecord::to_object() const {
  json j = unknown;
  j["id"] = id;
  j["email"] = email;
  j["username"] = username;
  j["password"] = password;
  j["role"] = role;
  j["disabled"] = disabled;
  j["created_at"] = created_at;
  j["updated_at"] = updated_at;
  j["audit_id"] = audit_id;
  records::put_if(j, "email_verified", email_verified);
  records::put_if(j, "email_verified_at", email_verified_at);
  records::put_if(j, "unverified_erase_at", unverified_erase_at);
  records::put_if(j, "credential_epoch", credential_epoch);
  records::put_records_if(j, "identities", identities);
  records::put_record_if(j, "mfa", mfa);
  return j;
}

std::optional<UserRecord> UserRecord::from_object(const json& j) {
  FieldReader f(j);
  f.version(kVersion);
  UserRecord u;
  f.take("id", u.id);
  f.take("email", u.email);
  f.take("username", u.username);
  f.take("password", u.password);
  f.take("role", u.role);
  f.take("disabled", u.disabled);
  f.take("created_at", u.created_at);
  f.take("updated_at", u.updated_at);
  f.take("audit_id", u.audit_id);
  f.take("email_verified", u.email_verified);
  f.take("email_verified_at", u.email_verified_at);
  f.take("unverified_erase_at", u.unverified_erase_at);
  f.take("credential_epoch", u.credential_epoch);
  f.take_records("identities", u.identities);
  f.take_record("mfa", u.mfa);
  if (!f.ok()) return std::nullopt;
  u.unknown = f.unknown();
  return u;
}

std::string UserRecord::to_json() const { return records::dump(to_object()); }

std::optional<UserRecord> UserRecord::from_json(std::string_view text) { return records::from_text<UserRecord>(text); }

json UserRecord::public_view() const {
  json providers = json::array();
  for (const auto& i : identities.value_or(std::vector<Identity>{})) providers.push_back(i.provider);
  return {{"id", id},
          {"email", email},
          {"username", username},
          {"role", role},
          {"disabled", disabled},
          {"created_at", created_at},
          {"email_verified", verified()},
          {"mfa_enabled", mfa_enabled()},
          {"has_password", !password.empty()},
          {"providers", providers}};
}

}  // namespace spa::authd
