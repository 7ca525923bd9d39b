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

#include <string>

#include "authd/records/json_fields.h"

namespace spa::authd {

struct OAuthStateRecord : records::JsonRecord<OAuthStateRecord> {
  static constexpr int kVersion = 1;

  std::string provider;
  std::string box;

  template <class Self, class Fields>
  static void fields(Self& r, Fields& f) {
    f("provider", r.provider);
    f("box", r.box);
  }
};

struct OAuthStateSecrets : records::JsonRecord<OAuthStateSecrets> {
  static constexpr int kVersion = 1;

  std::string nonce;
  std::string verifier;
  std::string redirect_to = "/";
  std::string link_user;
  std::string link_sid;

  template <class Self, class Fields>
  static void fields(Self& r, Fields& f) {
    f("nonce", r.nonce);
    f("verifier", r.verifier);
    f("redirect_to", r.redirect_to);
    f("link_user", r.link_user);
    f("link_sid", r.link_sid);
  }
};

}  // namespace spa::authd
