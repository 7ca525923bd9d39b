#include "core/http_fields.h"

#include <algorithm>

namespace spa::core {
namespace {

char lower(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

std::string_view unquote(std::string_view e) {
  if (e.size() >= 2 && e.front() == '"' && e.back() == '"') return trim_ows(e.substr(1, e.size() - 2));
  return e;
}

}  // namespace

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) { return lower(x) == lower(y); });
}

namespace {

char fold_char(char c) {
  if (c >= 'A' && c <= 'Z') return static_cast<char>(c - 'A' + 'a');
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ? c : '-';
}

}  // namespace

std::string fold_field_name(std::string_view name) {
  std::string out(name);
  for (char& c : out) c = fold_char(c);
  return out;
}

std::string percent_decode(std::string_view s, bool plus_as_space) {
  auto hex = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2])));
      i += 2;
    } else {
      out.push_back(plus_as_space && s[i] == '+' ? ' ' : s[i]);
    }
  }
  return out;
}

bool may_mention(std::string_view text, const std::vector<std::string>& names) {
  if (text.find('%') != std::string_view::npos) return true;
  for (const auto& n : names) {
    if (n.empty() || n.size() > text.size()) continue;
    for (size_t i = 0; i + n.size() <= text.size(); ++i)
      if (iequals(text.substr(i, n.size()), n)) return true;
  }
  return false;
}

bool folded_starts_with(std::string_view name, std::string_view folded_prefix) {
  if (name.size() < folded_prefix.size()) return false;
  for (size_t i = 0; i < folded_prefix.size(); ++i)
    if (fold_char(name[i]) != folded_prefix[i]) return false;
  return true;
}

bool folded_equals(std::string_view name, std::string_view folded) {
  return name.size() == folded.size() && folded_starts_with(name, folded);
}

std::vector<std::string_view> list_elements(std::string_view value) {
  std::vector<std::string_view> out;
  size_t start = 0;
  bool quoted = false;
  for (size_t i = 0; i <= value.size(); ++i) {
    if (i < value.size()) {
      char c = value[i];
      if (quoted && c == '\\' && i + 1 < value.size()) {
        ++i;
        continue;
      }
      if (c == '"') quoted = !quoted;
      if (c != ',' || quoted) continue;
    }
    std::string_view e = trim_ows(value.substr(start, i - start));
    if (!e.empty()) out.push_back(e);
    start = i + 1;
  }
  return out;
}

std::vector<std::string_view> list_elements(const std::vector<std::string_view>& lines) {
  std::vector<std::string_view> out;
  for (auto line : lines)
    for (auto e : list_elements(line)) out.push_back(e);
  return out;
}

bool list_contains(const std::vector<std::string_view>& lines, std::string_view token) {
  auto all = list_elements(lines);
  return std::any_of(all.begin(), all.end(), [&](std::string_view e) { return iequals(unquote(e), token); });
}

bool upgrade_offers(const std::vector<std::string_view>& lines, std::string_view protocol) {
  for (auto e : list_elements(lines)) {
    e = unquote(e);
    size_t slash = e.find('/');
    if (iequals(trim_ows(e.substr(0, slash)), protocol)) return true;
  }
  return false;
}

bool subprotocol_bearer(const std::vector<std::string_view>& lines, std::string_view& token, std::string& rest) {
  auto all = list_elements(lines);
  for (size_t i = 0; i + 1 < all.size(); ++i) {
    if (all[i] != "bearer") continue;  // subprotocol names are case-sensitive (RFC 6455 §4.1)
    token = all[i + 1];
    rest.clear();
    for (size_t j = 0; j < all.size(); ++j) {
      if (j == i + 1) continue;
      if (!rest.empty()) rest += ", ";
      rest += all[j];
    }
    return true;
  }
  return false;
}

bool remove_bearer_subprotocols(const std::vector<std::string_view>& lines, std::string& rest) {
  auto all = list_elements(lines);
  // What goes: the element after every "bearer" of any case ("Bearer",
  // "BEARER" too), unless that element is such a name itself (then it is
  // one, and the one after it goes), and always the one the exact reader
  // takes. Found by fuzz_fields: "Bearer, bearer, TOKEN" removed "bearer"
  // as Bearer's token and sent TOKEN, the one subprotocol_bearer takes, on.
  std::vector<bool> drop(all.size(), false);
  for (size_t i = 0; i + 1 < all.size(); ++i)
    if (iequals(all[i], "bearer") && !iequals(all[i + 1], "bearer")) drop[i + 1] = true;
  for (size_t i = 0; i + 1 < all.size(); ++i)
    if (all[i] == "bearer") {
      drop[i + 1] = true;
      break;
    }
  bool removed = false;
  rest.clear();
  for (size_t i = 0; i < all.size(); ++i) {
    if (drop[i]) {
      removed = true;
      continue;
    }
    if (!rest.empty()) rest += ", ";
    rest += all[i];
  }
  return removed;
}

}  // namespace spa::core
