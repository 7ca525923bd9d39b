#include "core/query.h"

#include <algorithm>

#include "core/http_fields.h"

namespace spa::core {
namespace {

// Percent-decoded, '+' as space, as a form decoder reads it.
std::string decode(std::string_view s) { return percent_decode(s, true); }


// A parameter name as the most lenient parser downstream might read it:
// percent-decoded repeatedly (%2563 -> %63 -> c), spaces, '+' and NULs
// trimmed, a PHP-style "[]" suffix dropped. Only for redaction: being
// generous there hides more, never less.
std::string loose_name(std::string_view raw) {
  std::string n(raw);
  for (int i = 0; i < 4 && n.find('%') != std::string::npos; ++i) n = decode(n);
  auto junk = [](char c) { return c == ' ' || c == '+' || c == '\t' || c == '\0'; };
  while (!n.empty() && junk(n.front())) n.erase(n.begin());
  if (size_t br = n.find('['); br != std::string::npos) n.resize(br);
  while (!n.empty() && junk(n.back())) n.pop_back();
  return n;
}

bool loosely_named(std::string_view param, const std::vector<std::string>& names) {
  std::string name = loose_name(param.substr(0, param.find('=')));
  return std::any_of(names.begin(), names.end(), [&](const std::string& n) { return iequals(n, name); });
}


}  // namespace

const std::vector<std::string>& secret_query_names() {
  static const std::vector<std::string> names = {"code", "state", "access_token", "id_token", "refresh_token",
                                                 "token", "mfa_token", "password"};
  return names;
}

std::string remove_query_params(std::string_view query, const std::vector<std::string>& names, bool& removed) {
  // Generous, like redaction: whatever some upstream could read as one of
  // the names goes ('&' or ';' separated, encoded, "[]", padded).
  std::string out;
  removed = false;
  size_t pos = 0;
  char sep = 0;
  while (pos <= query.size()) {
    size_t end = query.find_first_of("&;", pos);
    if (end == std::string_view::npos) end = query.size();
    std::string_view p = query.substr(pos, end - pos);
    if (!p.empty() && loosely_named(p, names)) {
      removed = true;
    } else if (!p.empty()) {
      if (!out.empty()) out.push_back(sep ? sep : '&');
      out += p;
    }
    sep = end < query.size() ? query[end] : 0;
    pos = end + 1;
  }
  return out;
}

void mask_query_secrets(char* text, size_t len, const std::vector<std::string>& names) {
  std::string_view q(text, len);
  size_t pos = 0;
  while (pos < len) {
    size_t end = q.find_first_of("&;", pos);
    if (end == std::string_view::npos) end = len;
    std::string_view p = q.substr(pos, end - pos);
    size_t eq = p.find('=');
    if (eq != std::string_view::npos && (loosely_named(p, names) || loosely_named(p, secret_query_names())))
      for (size_t i = pos + eq + 1; i < end; ++i) text[i] = '*';
    pos = end + 1;
  }
}

std::string redact_query(std::string_view query, const std::vector<std::string>& names) {
  // '&' and ';' both separate: some servers and frameworks split on ';'.
  std::string out;
  size_t pos = 0;
  while (pos <= query.size()) {
    size_t end = query.find_first_of("&;", pos);
    if (end == std::string_view::npos) end = query.size();
    std::string_view p = query.substr(pos, end - pos);
    if (!p.empty() && (loosely_named(p, names) || loosely_named(p, secret_query_names()))) {
      size_t eq = p.find('=');
      out += p.substr(0, eq);
      out += "=[redacted]";
    } else {
      out += p;
    }
    if (end < query.size()) out.push_back(query[end]);
    pos = end + 1;
  }
  return out;
}

std::string redact_request_line(std::string_view line, const std::vector<std::string>& names) {
  size_t q = line.find('?');
  if (q == std::string_view::npos) return std::string(line);
  // The target ends at the space before the HTTP version (or at the end).
  size_t end = line.find(' ', q);
  if (end == std::string_view::npos) end = line.size();
  std::string out(line.substr(0, q + 1));
  out += redact_query(line.substr(q + 1, end - q - 1), names);
  out += line.substr(end);
  return out;
}

}  // namespace spa::core
