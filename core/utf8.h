// Text that came from a client (a User-Agent, an address header, a query
// parameter) as we store it and answer it: valid UTF-8 (RFC 3629), so that
// a JSON encoder never meets a byte it cannot write.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace spa::core {

// `s` as valid UTF-8 of at most `max_bytes`: every ill-formed sequence (a
// stray continuation byte, a sequence cut short, an overlong form, a
// surrogate, anything above U+10FFFF) becomes one U+FFFD per maximal
// subpart (Unicode §3.9, as browsers decode), and the text ends at the
// last whole character that fits -- a replacement that does not fit in
// full is left out with everything after it.
std::string utf8_clip(std::string_view s, size_t max_bytes);

// Well-formed UTF-8 throughout (the same rules as utf8_clip).
bool utf8_valid(std::string_view s);

}  // namespace spa::core
