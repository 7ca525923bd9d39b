#include "authd/records/oauth_state.h"

#include "authd/records/json_fields.h"

namespace spa::authd {

using nlohmann::json;

json OAuthStateRecord::to_object() const {
  json j = unknown;
  j["provider"] = provider;
  j["box"] = box;
  return j;
}

std::optional<OAuthStateRecord> OAuthStateRecord::from_object(const json& j) {
  records::FieldReader f(j);
  f.version(kVersion);
  OAuthStateRecord r;
  f.take("provider", r.provider);
  f.take("box", r.box);
  if (!f.ok()) return std::nullopt;
  r.unknown = f.unknown();
  return r;
}

std::string OAuthStateRecord::to_json() const { return records::dump(to_object()); }

std::optional<OAuthStateRecord> OAuthStateRecord::from_json(std::string_view text) {
  return records::from_text<OAuthStateRecord>(text);
}

json OAuthStateSecrets::to_object() const {
  json j = unknown;
  j["nonce"] = nonce;
  j["verifier"] = verifier;
  j["redirect_to"] = redirect_to;
  j["link_user"] = link_user;
  j["link_sid"] = link_sid;
  return j;
}

std::optional<OAuthStateSecrets> OAuthStateSecrets::from_object(const json& j) {
  records::FieldReader f(j);
  f.version(kVersion);
  OAuthStateSecrets s;
  f.take("nonce", s.nonce);
  f.take("verifier", s.verifier);
  f.take("redirect_to", s.redirect_to);
  f.take("link_user", s.link_user);
  f.take("link_sid", s.link_sid);
  if (!f.ok()) return std::nullopt;
  s.unknown = f.unknown();
  return s;
}

std::string OAuthStateSecrets::to_json() const { return records::dump(to_object()); }

std::optional<OAuthStateSecrets> OAuthStateSecrets::from_json(std::string_view text) {
  return records::from_text<OAuthStateSecrets>(text);
}

}  // namespace spa::authd
