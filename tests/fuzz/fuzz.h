// What every libFuzzer target of tests/fuzz/ shares: a check that stops
// the run with the input kept (libFuzzer writes crash-<sha1> on abort), and
// input helpers. A target is one file, fuzz_<name>.cc, with its seed corpus
// in tests/fuzz/corpus/<name>/ (docs/testing.md, "Fuzzing").
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

// Not assert(): it stays on under NDEBUG, and says which property failed.
#define FUZZ_CHECK(cond)                                                              \
  do {                                                                                \
    if (!(cond)) {                                                                    \
      std::fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                                   \
    }                                                                                 \
  } while (0)

namespace fuzz {

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// The input's lines (split at '\n'), as header lines reach the code.
inline std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> out;
  while (true) {
    size_t nl = text.find('\n');
    out.push_back(text.substr(0, nl));
    if (nl == std::string_view::npos) return out;
    text.remove_prefix(nl + 1);
  }
}

// Reads the input front to back: small numbers for choices, the rest as bytes.
class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : p_(data), left_(size) {}
  bool empty() const { return left_ == 0; }
  uint8_t byte() {
    if (left_ == 0) return 0;
    --left_;
    return *p_++;
  }
  uint32_t u32() { return uint32_t{byte()} | uint32_t{byte()} << 8 | uint32_t{byte()} << 16 | uint32_t{byte()} << 24; }
  std::string_view bytes(size_t n) {
    if (n > left_) n = left_;
    std::string_view s(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    left_ -= n;
    return s;
  }
  std::string_view rest() { return bytes(left_); }

 private:
  const uint8_t* p_;
  size_t left_;
};

// The fixed key set of the targets that verify tokens (tests/fuzz/keys/,
// public keys of every algorithm); a broken file stops the run at once.
template <class Jwks>
void load_fixed_jwks(Jwks& out) {
  std::ifstream in(SPA_FUZZ_DIR "/keys/jwks.json");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string err;
  std::vector<std::string> warnings;
  if (!Jwks::parse(ss.str(), out, err, warnings)) {
    std::fprintf(stderr, "%s/keys/jwks.json: %s\n", SPA_FUZZ_DIR, err.c_str());
    std::abort();
  }
}

}  // namespace fuzz
