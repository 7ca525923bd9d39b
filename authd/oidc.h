// OpenID Connect relying-party logic without I/O: PKCE (RFC 7636), provider
// metadata (OpenID Connect Discovery 1.0), the token response (RFC 6749
// §5.1), ID token validation (OIDC Core §3.1.3.7) and where a login may
// send the browser afterwards. authd/oauth.cc does the network calls.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/algorithm.h"
#include "core/jwk.h"

namespace spa::authd::oidc {

// BASE64URL(SHA-256(verifier)), the S256 code_challenge.
std::string pkce_challenge(std::string_view verifier);

// https://HOST[:PORT]/... ; plain http only when HOST is a loopback address
// (127.0.0.0/8, [::1], localhost). No user info, no fragment.
bool url_allowed(std::string_view url);
// The host of an absolute URL ("" when it has none).
std::string url_host(std::string_view url);

// What the relying party needs from a provider's metadata.
struct ProviderMetadata {
  std::string issuer;
  std::vector<std::string> issuer_aliases;  // also accepted in "iss" (Google: "accounts.google.com")
  std::string authorization_endpoint;
  std::string token_endpoint;
  std::string userinfo_endpoint;  // may be empty
  std::string jwks_uri;
  core::AlgSet id_token_algs;     // asymmetric algorithms only
  bool client_secret_basic = true;
  bool client_secret_post = false;
  bool iss_parameter = false;     // RFC 9207: the callback carries "iss"
};

// Parses a discovery document fetched from `discovery_url`: the issuer must
// be the URL without "/.well-known/openid-configuration" (Discovery §4.3,
// against mix-up), every endpoint must pass url_allowed, and the provider
// must offer the code flow and, when it lists methods, PKCE S256.
bool parse_discovery(std::string_view text, std::string_view discovery_url, ProviderMetadata& out, std::string& err);

// Google's endpoints and issuer, built in (Google publishes them at
// https://accounts.google.com/.well-known/openid-configuration).
ProviderMetadata google_metadata();

// A provider's JWK Set: keys we cannot use (encryption keys, other types)
// are skipped, not fatal, since providers publish whatever they like; a
// set with no usable key is an error.
bool parse_provider_jwks(std::string_view text, core::Jwks& out, std::string& err);

struct TokenResponse {
  std::string access_token;
  std::string id_token;
};
bool parse_token_response(std::string_view text, TokenResponse& out, std::string& err);

struct IdTokenCheck {
  const ProviderMetadata* provider = nullptr;
  std::string client_id;
  std::string nonce;
  int64_t now = 0;
  int64_t leeway = 60;        // clock skew allowed on exp/iat
  int64_t max_age = 10 * 60;  // an iat older than this is a replay, not a fresh login
};

enum class IdTokenResult { kOk, kUnknownKey, kInvalid };

// Checks signature (against `keys`), iss, aud, azp, exp, iat and nonce.
// kUnknownKey when no key in `keys` has the token's kid (the caller may
// fetch the provider's keys again); kInvalid with `reason` otherwise.
IdTokenResult verify_id_token(std::string_view token, const core::Jwks& keys, const IdTokenCheck& check,
                              nlohmann::json& claims, std::string& reason);

// Where to send the browser after a login: a same-site path ("/app?x=1",
// never "//host" or "/\host"), or an absolute URL listed exactly in
// `allowed`, or a URL under an entry ending in "/". nullopt otherwise.
std::optional<std::string> safe_redirect(std::string_view target, const std::vector<std::string>& allowed);

// application/x-www-form-urlencoded, for query strings and token requests.
std::string form_encode(const std::vector<std::pair<std::string, std::string>>& fields);
std::string percent_encode(std::string_view s);

}  // namespace spa::authd::oidc
