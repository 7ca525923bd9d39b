// The Cookie request header (RFC 6265 §4.2, §5.4): `name=value` pairs
// separated by `;` and optional whitespace. Names are case-sensitive:
// `__HOST-spa_at` is not `__Host-spa_at`, or the prefix protects nothing.
// Shared by the module and spa-authd so both read a header the same way.
//
// Reading is exact; but a pair *carries* a name when some other reader
// could take it for that name: compared without case, percent-decoded
// (%5F_Host-spa_at), with whitespace around it trimmed (also VT, FF and
// NBSP, as JavaScript's trim() does), or as a ','-separated part of a
// pair's value (RFC 2965 readers: "a=1,__Host-spa_at=T"). Carriers are
// what goes before proxying, and what counts when a name is sent twice.
#pragma once

#include <cstddef>
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

// A token cookie as its reader needs it: the value find_cookie gives, and
// how many pairs over every line carry the name. More than one is a
// cookie planted beside ours (a sibling host can set `__Secure-` cookies
// with Domain=): the reader refuses rather than pick one.
struct CookieLookup {
  std::optional<std::string_view> value;
  size_t carriers = 0;
  bool duplicate() const { return carriers > 1; }
};
CookieLookup lookup_cookie(const std::vector<std::string_view>& lines, std::string_view name);

// The header without the pairs (and ','-parts) that carry one of `names`;
// the other pairs keep their order, joined with "; ". `removed` says
// whether any was.
std::string remove_cookies(std::string_view header, const std::vector<std::string>& names, bool& removed);

}  // namespace spa::core
