#include "core/origin.h"

#include <algorithm>

#include "core/http_fields.h"

namespace spa::core {
namespace {

std::string lowercase(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

// host[:port] -> tuple fields; the port defaults to the scheme's.
bool split_authority(std::string_view a, std::string_view scheme, OriginTuple& t) {
  if (a.empty() || a.find_first_of("/?#@ \t\\") != std::string_view::npos) return false;
  std::string_view host = a, port;
  if (a.front() == '[') {
    size_t close = a.find(']');
    if (close == std::string_view::npos) return false;
    host = a.substr(0, close + 1);
    std::string_view after = a.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return false;
      port = after.substr(1);
      if (port.empty()) return false;
    }
  } else {
    size_t colon = a.find(':');
    if (colon != std::string_view::npos) {
      host = a.substr(0, colon);
      port = a.substr(colon + 1);
      if (port.empty()) return false;
    }
  }
  if (host.empty()) return false;
  int p = scheme == "https" ? 443 : 80;
  if (!port.empty()) {
    if (port.size() > 5 || !std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c); }))
      return false;
    p = std::stoi(std::string(port));
    if (p < 1 || p > 65535) return false;
  }
  t.host = lowercase(host);
  t.port = p;
  return true;
}

}  // namespace

std::optional<OriginTuple> parse_origin(std::string_view origin) {
  size_t sep = origin.find("://");
  if (sep == std::string_view::npos) return std::nullopt;
  OriginTuple t;
  t.scheme = lowercase(origin.substr(0, sep));
  if (t.scheme != "https" && t.scheme != "http") return std::nullopt;
  if (!split_authority(origin.substr(sep + 3), t.scheme, t)) return std::nullopt;
  return t;
}

std::optional<OriginTuple> request_origin(std::string_view scheme, std::string_view host_header) {
  OriginTuple t;
  t.scheme = lowercase(scheme);
  if (t.scheme != "https" && t.scheme != "http") return std::nullopt;
  if (!split_authority(host_header, t.scheme, t)) return std::nullopt;
  return t;
}

bool same_origin(std::string_view origin, std::string_view scheme, std::string_view host_header) {
  auto a = parse_origin(origin);
  auto b = request_origin(scheme, host_header);
  return a && b && *a == *b;
}

bool origin_listed(std::string_view origin, const std::vector<std::string>& allowed) {
  auto a = parse_origin(origin);
  if (!a) return false;
  return std::any_of(allowed.begin(), allowed.end(), [&](const std::string& o) { return parse_origin(o) == a; });
}

bool origin_allowed(const std::vector<std::string_view>& origin_lines, const std::vector<std::string>& allowed,
                    std::string_view scheme, std::string_view host_header) {
  if (origin_lines.size() != 1) return false;
  std::string_view origin = trim_ows(origin_lines[0]);
  if (!allowed.empty()) return origin_listed(origin, allowed);
  return same_origin(origin, scheme, host_header);
}

bool csrf_origin_allowed(const std::vector<std::string_view>& origin_lines,
                         const std::vector<std::string_view>& fetch_site_lines, const std::vector<std::string>& allowed,
                         std::string_view scheme, std::string_view host_header) {
  if (!origin_lines.empty()) return origin_allowed(origin_lines, allowed, scheme, host_header);
  return fetch_site_lines.size() == 1 && trim_ows(fetch_site_lines[0]) == "same-origin";
}

}  // namespace spa::core
