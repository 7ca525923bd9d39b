#include "core/cookies.h"

#include <algorithm>

#include "core/http_fields.h"

namespace spa::core {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Calls f(name, value, whole pair) for each pair; stops when f returns true.
template <typename F>
void for_each_pair(std::string_view header, F f) {
  size_t pos = 0;
  while (pos <= header.size()) {
    size_t end = header.find(';', pos);
    if (end == std::string_view::npos) end = header.size();
    std::string_view pair = trim(header.substr(pos, end - pos));
    if (!pair.empty()) {
      size_t eq = pair.find('=');
      // RFC 6265bis §5.6.3: a pair without '=' is a value with an empty name.
      std::string_view name = eq == std::string_view::npos ? std::string_view{} : trim(pair.substr(0, eq));
      std::string_view value = eq == std::string_view::npos ? pair : trim(pair.substr(eq + 1));
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

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Generous on removal: an upstream may compare names without case, or
// percent-decode them (%5F_Host-spa_at).
bool removable(std::string_view n, const std::vector<std::string>& names) {
  std::string decoded;
  for (size_t i = 0; i < n.size(); ++i) {
    if (n[i] == '%' && i + 2 < n.size() && hex_digit(n[i + 1]) >= 0 && hex_digit(n[i + 2]) >= 0) {
      decoded.push_back(static_cast<char>(hex_digit(n[i + 1]) * 16 + hex_digit(n[i + 2])));
      i += 2;
    } else {
      decoded.push_back(n[i]);
    }
  }
  return !n.empty() && std::any_of(names.begin(), names.end(),
                                   [&](const std::string& x) { return iequals(x, n) || iequals(x, decoded); });
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
      std::string_view part = trim(pair.substr(pos, end - pos));
      size_t eq = part.find('=');
      if (pos > 0 && eq != std::string_view::npos && removable(trim(part.substr(0, eq)), names)) {
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
