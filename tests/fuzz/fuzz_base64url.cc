// base64url as JOSE needs it: canonical only, so a decoded value encodes
// back to exactly the input (no second spelling of one token).
#include "core/base64url.h"
#include "tests/fuzz/fuzz.h"

using namespace spa::core;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = fuzz::as_text(data, size);
  std::string out;
  if (base64url_decode(text, out)) FUZZ_CHECK(base64url_encode(out) == text);
  std::string round;
  FUZZ_CHECK(base64url_decode(base64url_encode(text), round) && round == text);
  return 0;
}
