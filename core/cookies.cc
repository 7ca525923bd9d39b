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

// Calls f(name, part) for each ','-separated part of a pair after the
// first, with the name a ','-splitting reader sees ("" when the part has
// no '='), and f(std::nullopt, first part) for the first.
template <typename F>
void for_each_comma_part(std::string_view pair, F f) {
  size_t pos = 0;
  while (pos <= pair.size()) {
    size_t end = pair.find(',', pos);
    if (end == std::string_view::npos) end = pair.size();
    std::string_view part = pair.substr(pos, end - pos);
    if (pos == 0) {
      f(std::optional<std::string_view>(), part);
    } else {
      std::string_view t = trim_ows(part);
      size_t eq = t.find('=');
      f(std::optional<std::string_view>(eq == std::string_view::npos ? std::string_view{} : t.substr(0, eq)), part);
    }
    pos = end + 1;
  }
}

// What some reader strips around a name: ASCII whitespace, and NBSP as
// Latin-1 (Node reads header bytes so) or as UTF-8.
std::string_view trim_lenient(std::string_view s) {
  auto space_at_front = [](std::string_view t) -> size_t {
    if (t.empty()) return 0;
    unsigned char c = static_cast<unsigned char>(t.front());
    if (c == ' ' || (c >= '\t' && c <= '\r') || c == 0xA0) return 1;
    if (c == 0xC2 && t.size() > 1 && static_cast<unsigned char>(t[1]) == 0xA0) return 2;
    return 0;
  };
  auto space_at_back = [](std::string_view t) -> size_t {
    if (t.empty()) return 0;
    unsigned char c = static_cast<unsigned char>(t.back());
    if (c == ' ' || (c >= '\t' && c <= '\r')) return 1;
    if (c == 0xA0) return t.size() > 1 && static_cast<unsigned char>(t[t.size() - 2]) == 0xC2 ? 2 : 1;
    return 0;
  };
  for (size_t n; (n = space_at_front(s));) s.remove_prefix(n);
  for (size_t n; (n = space_at_back(s));) s.remove_suffix(n);
  return s;
}

// `n` is `want` to some reader. A '%' costs a decoded copy; nothing else allocates.
bool carries(std::string_view n, std::string_view want) {
  if (n.empty()) return false;
  if (iequals(trim_lenient(n), want)) return true;
  if (n.find('%') == std::string_view::npos) return false;
  std::string decoded = percent_decode(n, false);
  return iequals(trim_lenient(decoded), want);
}

bool carries_any(std::string_view n, const std::vector<std::string>& names) {
  return std::any_of(names.begin(), names.end(), [&](const std::string& x) { return carries(n, x); });
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

CookieLookup lookup_cookie(const std::vector<std::string_view>& lines, std::string_view name) {
  CookieLookup out;
  if (name.empty()) return out;
  for (auto line : lines) {
    for_each_pair(line, [&](std::string_view n, std::string_view v, std::string_view pair) {
      if (n == name && !out.value) out.value = v;
      if (carries(n, name)) ++out.carriers;
      if (pair.find(',') != std::string_view::npos)
        for_each_comma_part(pair, [&](std::optional<std::string_view> part_name, std::string_view) {
          if (part_name && carries(*part_name, name)) ++out.carriers;
        });
      return false;
    });
  }
  return out;
}

std::string remove_cookies(std::string_view header, const std::vector<std::string>& names, bool& removed) {
  std::string out;
  removed = false;
  for_each_pair(header, [&](std::string_view n, std::string_view, std::string_view pair) {
    if (carries_any(n, names)) {
      removed = true;
      return false;
    }
    std::string kept;
    for_each_comma_part(pair, [&](std::optional<std::string_view> part_name, std::string_view part) {
      if (part_name && carries_any(*part_name, names)) {
        removed = true;
        return;
      }
      if (part_name) kept += ',';
      kept += part;
    });
    if (kept.empty()) return false;
    if (!out.empty()) out += "; ";
    out += kept;
    return false;
  });
  return out;
}

}  // namespace spa::core
