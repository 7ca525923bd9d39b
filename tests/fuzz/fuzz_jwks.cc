// A JWKS document (the file the module re-reads, a provider's keys): parsed
// strictly; a parsed set resolves its own keys and survives a reload of itself.
#include "core/jwk.h"
#include "tests/fuzz/fuzz.h"

using namespace spa::core;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = fuzz::as_text(data, size);
  Jwks set;
  std::string err;
  std::vector<std::string> warnings;
  if (!Jwks::parse(text, set, err, warnings)) {
    FUZZ_CHECK(!err.empty());
    return 0;
  }
  FUZZ_CHECK(set.size() > 0);
  for (const JwkPtr& k : set.keys()) {
    FUZZ_CHECK(k != nullptr);
    if (!k->kid.empty()) {
      // A key found by its own kid is a key of the set.
      for (Alg a : {Alg::kEdDSA, Alg::kES256, Alg::kES384, Alg::kRS256, Alg::kPS256}) {
        JwkPtr found = set.resolve(k->kid, a);
        if (found) FUZZ_CHECK(found->usable_for(a));
      }
    }
    jwk_public_json(*k);
  }
  Jwks again;
  FUZZ_CHECK(Jwks::parse(text, again, err, warnings));
  again.adopt_unchanged_from(set);
  FUZZ_CHECK(again.size() == set.size());
  return 0;
}
