#include "core/cookies.h"

#include <algorithm>

#include "core/http_fields.h"

namespace spa::core {
namespace {


// Calls f(name, value, whole pair) for each pair; stops when f returns true.
template <typename F>
void for_each_pair(std::string_view header, F f) {
  size_t pos = 0;
  while (pos <= header.size()) {
    size_t end = header.find(';', pos);
    if (end == std::string_view::npos) end = header.size();
    std::string_view pair = trim_ows(header.substr(pos, end - pos));
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      // RFC 6265bis §5.6.3: a pair without '=' is a value with an empty name.
      std::string_view name = eq == std::string_view::npos ? std::string_view{} : trim_ows(pair.substr(0, eq));
      std::string_view value = eq == std::string_view::npos ? pair : trim_ows(pair.substr(eq + 1));
      if (f(name, value, pair)) return;
    }
    pos = end + 1;
  }
}

}  // namespace

std::optional<std::string_view> find_cookie(std::string_view header, std::string_view name) {
  std::optional<std::string_view> out;
  if (name.empty()) return out;
  for_each_pair(header, [&](std::string_view n, std::string_view v, std::string_view) {
    if (n != name) return false;
    out = v;
    return true;
  });
  return out;
}

std::optional<std::string_view> find_cookie(const std::vector<std::string_view>& lines, std::string_view name) {
  for (auto line : lines)
    if (auto v = find_cookie(line, name)) return v;
  return std::nullopt;
}

namespace {


// Generous on removal: an upstream may compare names without case, or
// percent-decode them (%5F_Host-spa_at).
bool removable(std::string_view n, const std::vector<std::string>& names) {
  if (n.empty()) return false;
  std::string decoded = n.find('%') == std::string_view::npos ? std::string() : percent_decode(n, false);
  return std::any_of(names.begin(), names.end(), [&](const std::string& x) {
    return iequals(x, n) || (!decoded.empty() && iequals(x, decoded));
  });
}

}  // namespace

std::string remove_cookies(std::string_view header, const std::vector<std::string>& names, bool& removed) {
  std::string out;
  removed = false;
  for_each_pair(header, [&](std::string_view n, std::string_view, std::string_view pair) {
    if (removable(n, names)) {
      removed = true;
      return false;
    }
    // Some servers also split pairs at ',' (RFC 2965): "a=1,__Host-spa_at=T".
    std::string kept;
    size_t pos = 0;
    while (pos <= pair.size()) {
      size_t end = pair.find(',', pos);
      if (end == std::string_view::npos) end = pair.size();
      std::string_view part = trim_ows(pair.substr(pos, end - pos));
      size_t eq = part.find('=');
      if (pos > 0 && eq != std::string_view::npos && removable(trim_ows(part.substr(0, eq)), names)) {
        removed = true;
      } else {
        if (pos > 0) kept += ',';
        kept += pair.substr(pos, end - pos);
      }
      pos = end + 1;
    }
    if (kept.empty()) return false;
    if (!out.empty()) out += "; ";
    out += kept;
    return false;
  });
  return out;
}

}  // namespace spa::core
