// verify_access_token: signature and structure, once per token. The claim
// policy (core/claims.h) is applied separately, on every request, because
// it differs per location while the signature does not.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/algorithm.h"
#include "core/claims.h"
#include "core/jwk.h"
#include "core/status.h"

namespace spa::core {

// Where a location's keys come from: its JWKS and, when configured, one
// HMAC secret. A view: the caller keeps the Jwks alive for the call.
struct KeySource {
  const Jwks* jwks = nullptr;
  JwkPtr hmac;

  // kOk and the key, or kUnknownKid / kAlgNotAllowed (kid names a key of
  // another type).
  Status resolve(const std::optional<std::string>& kid, Alg alg, JwkPtr& key) const;
};

struct VerifiedToken {
  Alg alg = Alg::kEdDSA;
  std::optional<std::string> kid;
  JwkPtr key;  // the key that verified it: a cache hit is valid only while
               // the location's keys still resolve to this same object
  Claims claims;
};
using VerifiedTokenPtr = std::shared_ptr<const VerifiedToken>;

Status verify_access_token(std::string_view token, const KeySource& keys, AlgSet allowed,
                           VerifiedTokenPtr& out, std::string& detail);

// For a cached token: the algorithm is still allowed here and the keys
// still resolve to the key that verified it.
bool still_trusted(const VerifiedToken& t, const KeySource& keys, AlgSet allowed);

}  // namespace spa::core
