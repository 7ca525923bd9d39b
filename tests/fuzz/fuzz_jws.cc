// A token from the wire: split, decoded and its header checked
// (parse_compact_jws), then verified against a fixed key set (the JWKS in
// tests/fuzz/keys/, keys of every algorithm, plus an HMAC secret) and its
// claims put through a policy, as the module does on every request.
// Seeds: tokens those keys signed (tests/fuzz/make-corpus.sh).
#include "core/claims.h"
#include "core/jws.h"
#include "core/verifier.h"
#include "tests/fuzz/fuzz.h"

using namespace spa::core;

namespace {

struct Keys {
  Jwks jwks;
  JwkPtr hmac;
  Keys() {
    fuzz::load_fixed_jwks(jwks);
    std::string err;
    hmac = jwk_from_hmac_secret("fuzzing-secret-of-thirty-two-bytes!!", err);
    FUZZ_CHECK(hmac != nullptr);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Keys keys;
  std::string_view token = fuzz::as_text(data, size);

  CompactJws jws;
  std::string detail;
  Status parsed = parse_compact_jws(token, jws, detail);
  if (parsed == Status::kOk) FUZZ_CHECK(jws.signing_input.size() < token.size());

  AlgSet all = default_algorithms();
  all.add(Alg::kHS256);
  VerifiedTokenPtr out;
  Status verified = verify_access_token(token, KeySource{&keys.jwks, keys.hmac}, all, out, detail);
  // A token that does not even parse cannot verify.
  if (parsed != Status::kOk) FUZZ_CHECK(verified != Status::kOk);
  if (verified != Status::kOk) return 0;
  FUZZ_CHECK(out != nullptr && out->key != nullptr);
  FUZZ_CHECK(still_trusted(*out, KeySource{&keys.jwks, keys.hmac}, all));

  ClaimPolicy policy;
  policy.issuer = "https://issuer.example";
  policy.audiences = {"spa"};
  policy.requirements = {{"role", {"admin", "user"}}};
  policy.max_age = 300;
  for (bool mfa : {false, true}) {
    policy.require_mfa = mfa;
    check_claims(out->claims, policy, 1'800'000'000, detail);
  }
  for (const char* name : {"sub", "role", "email", "amr", "groups"}) {
    auto text = claim_text(out->claims.payload, name);
    if (text) is_header_safe(*text);
  }
  return 0;
}
