// A token's payload (any bytes, as a signed token may carry): the claims
// extracted and checked against policies, and every claim's text as the
// module would put it in a header. The first 8 bytes are the time.
#include "core/claims.h"
#include "tests/fuzz/fuzz.h"

using namespace spa::core;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  fuzz::Reader in(data, size);
  int64_t now = static_cast<int64_t>(uint64_t{in.u32()} << 32 | in.u32());
  std::string_view payload = in.rest();
  Claims claims;
  std::string detail;
  if (extract_claims(payload, claims, detail) != Status::kOk) return 0;
  FUZZ_CHECK(claims.payload.is_object());

  ClaimPolicy open;
  ClaimPolicy strict;
  strict.issuer = "https://issuer.example";
  strict.audiences = {"spa", "api"};
  strict.requirements = {{"role", {"admin"}}, {"groups", {"ops"}}};
  strict.require_mfa = true;
  strict.max_age = 60;
  strict.leeway = 0;
  Status o = check_claims(claims, open, now, detail);
  Status s = check_claims(claims, strict, now, detail);
  // A policy that asks for more never lets through what a laxer one refused
  // for time (the strict one has no leeway).
  if (o == Status::kExpired) FUZZ_CHECK(s != Status::kOk);
  for (const auto& item : claims.payload.items()) {
    auto text = claim_text(claims.payload, item.key());
    if (text && is_header_safe(*text)) FUZZ_CHECK(text->find_first_of("\r\n") == std::string::npos);
  }
  return 0;
}
