#include "core/utf8.h"

#include <algorithm>

namespace spa::core {
namespace {

constexpr std::string_view kReplacement = "\xEF\xBF\xBD";  // U+FFFD

// The length of the well-formed sequence at s[i], or 0 when it is not
// one; `bad` is then the length of the maximal subpart to replace (at
// least 1). Table 3-7 of the Unicode Standard: the second byte's range
// excludes overlongs (E0, F0), surrogates (ED) and > U+10FFFF (F4).
size_t sequence_at(std::string_view s, size_t i, size_t& bad) {
  auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char lead = b(i);
  bad = 1;
  if (lead < 0x80) return 1;
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) need = 2;
  else if (lead >= 0xE0 && lead <= 0xEF) {
    need = 3;
    if (lead == 0xE0) lo = 0xA0;
    if (lead == 0xED) hi = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    need = 4;
    if (lead == 0xF0) lo = 0x90;
    if (lead == 0xF4) hi = 0x8F;
  } else {
    return 0;  // 80..C1 (continuation, overlong lead), F5..FF
  }
  for (size_t k = 1; k < need; ++k) {
    if (i + k >= s.size()) return 0;  // cut short: the bytes so far are one subpart
    unsigned char c = b(i + k);
    if (c < lo || c > hi) return 0;
    lo = 0x80, hi = 0xBF;
    bad = k + 1;
  }
  return need;
}

}  // namespace

std::string utf8_clip(std::string_view s, size_t max_bytes) {
  std::string out;
  out.reserve(std::min(s.size(), max_bytes));
  size_t i = 0;
  while (i < s.size()) {
    size_t bad;
    size_t n = sequence_at(s, i, bad);
    std::string_view piece = n ? s.substr(i, n) : kReplacement;
    if (out.size() + piece.size() > max_bytes) break;
    out += piece;
    i += n ? n : bad;
  }
  return out;
}

bool utf8_valid(std::string_view s) {
  for (size_t i = 0, bad; i < s.size();) {
    size_t n = sequence_at(s, i, bad);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

}  // namespace spa::core
