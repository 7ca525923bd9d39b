// An OAuth login under way (oauth_states database, keyed by the state's
// expiry, 8 bytes big-endian, then SHA-256 of the state, so expired logins
// sweep from the front and the key does not reveal the state). Format 1:
//
//   OAuthStateRecord   {"provider", "box"}: box is base64url of the
//                      OAuthStateSecrets sealed under a key derived from
//                      the browser's binding cookie, with the database key
//                      as associated data (authd/oauth.cc)
//   OAuthStateSecrets  {"nonce", "verifier" (PKCE), "redirect_to",
//                       "link_user", "link_sid"} ("" when the login links no
//                       account; link_sid: the session that started it)
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace spa::authd {

struct OAuthStateRecord {
  static constexpr int kVersion = 1;

  std::string provider;
  std::string box;
  nlohmann::json unknown = nlohmann::json::object();  // fields this format does not know, kept as they were

  std::string to_json() const;
  static std::optional<OAuthStateRecord> from_json(std::string_view text);
  nlohmann::json to_object() const;
  static std::optional<OAuthStateRecord> from_object(const nlohmann::json& j);
};

struct OAuthStateSecrets {
  static constexpr int kVersion = 1;

  std::string nonce;
  std::string verifier;
  std::string redirect_to = "/";
  std::string link_user;
  std::string link_sid;
  nlohmann::json unknown = nlohmann::json::object();  // fields this format does not know, kept as they were

  std::string to_json() const;
  static std::optional<OAuthStateSecrets> from_json(std::string_view text);
  nlohmann::json to_object() const;
  static std::optional<OAuthStateSecrets> from_object(const nlohmann::json& j);
};

}  // namespace spa::authd
