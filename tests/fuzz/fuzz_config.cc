// spa-authd's TOML configuration (the file `spa-authd --check-config`
// reads): any text is either a Config or errors that each name a key and
// what is wrong, never an exception or a crash.
#include "authd/config.h"
#include "tests/fuzz/fuzz.h"

using namespace spa::authd;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text = fuzz::as_text(data, size);
  Config config;
  std::vector<ConfigError> errors;
  bool ok = parse_config(text, "fuzz.toml", config, errors);
  FUZZ_CHECK(ok == errors.empty());
  for (const ConfigError& e : errors) {
    FUZZ_CHECK(!e.message.empty() && e.line >= 0);
    FUZZ_CHECK(!format_error("fuzz.toml", e).empty());
  }
  parse_size(text);
  return 0;
}
