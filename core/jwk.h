// JSON Web Keys (RFC 7517) and key sets, as OpenSSL EVP_PKEY objects.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/algorithm.h"
#include "core/openssl_handles.h"

namespace spa::core {

struct Jwk {
  std::string kid;              // empty when the JWK has none
  KeyKind kind = KeyKind::kEd25519;
  std::optional<Alg> alg;       // the JWK's own "alg", when it names one
  EvpPkeyPtr pkey;              // asymmetric keys (public, or private for signing)
  std::string secret;           // HMAC keys only
  std::string thumbprint;       // RFC 7638, base64url(SHA-256), asymmetric keys only
  bool has_private = false;

  // True when this key may check or make a signature with `a`.
  bool usable_for(Alg a) const;
};

using JwkPtr = std::shared_ptr<const Jwk>;

// Builds the public key of one JWK object. Returns nullptr and sets `err`
// when the member values are wrong; sets `skip` (and `err` to the reason)
// for a key we do not use but which is not an error in a set (RFC 7517 §5:
// unknown kty, "use" other than "sig", RSA under 2048 bits, symmetric keys).
JwkPtr jwk_from_json(const nlohmann::json& j, std::string& err, bool& skip);

// Public members only, in the form RFC 7517 publishes them (kid, alg, use
// added when known).
nlohmann::json jwk_public_json(const Jwk& k);

// RFC 7638 thumbprint of the key's required public members.
std::string jwk_thumbprint(const Jwk& k);

// A private key from PEM (PKCS#8 or traditional) for signing; kid is the
// thumbprint unless one is given.
JwkPtr jwk_from_private_pem(std::string_view pem, std::string& err);

// An HMAC key from raw secret bytes (at least 32 bytes, RFC 7518 §3.2).
JwkPtr jwk_from_hmac_secret(std::string secret, std::string& err);

class Jwks {
 public:
  // Parses a JWK Set document. A key that is present but broken fails the
  // whole set (better to keep the last good file than to half-load a new
  // one); keys we skip are reported in `warnings`. An empty result is an error.
  static bool parse(std::string_view text, Jwks& out, std::string& err,
                    std::vector<std::string>& warnings);

  // The key for a token: by kid when the token has one; without a kid, the
  // only key usable for `alg`, if there is exactly one (we never try keys
  // one after another). nullptr when none matches.
  JwkPtr resolve(std::optional<std::string_view> kid, Alg alg) const;

  // Keeps the objects of `previous` for keys that did not change, so caches
  // that remember "verified by this key" survive a reload that kept the key.
  void adopt_unchanged_from(const Jwks& previous);

  const std::vector<JwkPtr>& keys() const { return keys_; }
  size_t size() const { return keys_.size(); }

  void add(JwkPtr k);

 private:
  struct KidHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::vector<JwkPtr> keys_;
  std::unordered_map<std::string, JwkPtr, KidHash, std::equal_to<>> by_kid_;
};

}  // namespace spa::core
