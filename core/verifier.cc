#include "core/verifier.h"

#include "core/jws.h"

namespace spa::core {

Status KeySource::resolve(const std::optional<std::string>& kid, Alg alg, JwkPtr& key) const {
  if (alg_is_hmac(alg)) {
    key = hmac;
    return key ? Status::kOk : Status::kAlgNotAllowed;
  }
  if (!jwks) return Status::kUnknownKid;
  std::optional<std::string_view> k;
  if (kid) k = *kid;
  key = jwks->resolve(k, alg);
  if (key) return Status::kOk;
  // Tell "no such key" apart from "a key of another type" (alg confusion).
  if (kid)
    for (const auto& candidate : jwks->keys())
      if (candidate->kid == *kid) return Status::kAlgNotAllowed;
  return Status::kUnknownKid;
}

Status verify_access_token(std::string_view token, const KeySource& keys, AlgSet allowed,
                           VerifiedTokenPtr& out, std::string& detail) {
  CompactJws jws;
  Status s = parse_compact_jws(token, jws, detail);
  if (s != Status::kOk) return s;
  if (!allowed.contains(jws.header.alg)) {
    detail = std::string("algorithm ") + std::string(alg_name(jws.header.alg)) + " is not allowed here";
    return Status::kAlgNotAllowed;
  }
  auto t = std::make_shared<VerifiedToken>();
  s = keys.resolve(jws.header.kid, jws.header.alg, t->key);
  if (s != Status::kOk) {
    detail = s == Status::kUnknownKid ? "no key for this token" : "key type does not match alg";
    return s;
  }
  if (!verify_jws_signature(jws.header.alg, *t->key, jws.signing_input, jws.signature)) {
    detail = "signature does not verify";
    return Status::kBadSignature;
  }
  s = extract_claims(jws.payload, t->claims, detail);
  if (s != Status::kOk) return s;
  t->alg = jws.header.alg;
  t->kid = std::move(jws.header.kid);
  out = std::move(t);
  return Status::kOk;
}

bool still_trusted(const VerifiedToken& t, const KeySource& keys, AlgSet allowed) {
  if (!allowed.contains(t.alg)) return false;
  JwkPtr current;
  return keys.resolve(t.kid, t.alg, current) == Status::kOk && current == t.key;
}

}  // namespace spa::core
