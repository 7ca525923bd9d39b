// The Cookie request header (RFC 6265 §4.2, §5.4): `name=value` pairs
// separated by `;` and optional whitespace. Names are case-sensitive:
// `__HOST-spa_at` is not `__Host-spa_at`, or the prefix protects nothing.
// Shared by the module and spa-authd so both read a header the same way.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace spa::core {

// The value of the first pair named exactly `name` (whitespace around the
// value trimmed); nullopt when there is none. An empty value is a value.
std::optional<std::string_view> find_cookie(std::string_view header, std::string_view name);

// The first match over several Cookie lines (HTTP/2 sends one per pair).
std::optional<std::string_view> find_cookie(const std::vector<std::string_view>& lines, std::string_view name);

// The header without the pairs named one of `names` -- here compared
// without case, as a lenient upstream might read them; the other
// pairs keep their order, joined with "; ". `removed` says whether any was.
std::string remove_cookies(std::string_view header, const std::vector<std::string>& names, bool& removed);

}  // namespace spa::core
