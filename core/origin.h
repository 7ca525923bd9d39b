// Web origins (RFC 6454) as configured and as browsers send them.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace spa::core {

// scheme://host[:port] with scheme http or https and nothing after: what a
// browser sends in Origin, and what spa-authd's allowed_origins and
// spa_auth_websocket_origin list.
inline bool is_origin(std::string_view o) {
  size_t sep = o.find("://");
  if (sep == std::string_view::npos) return false;
  std::string_view scheme = o.substr(0, sep), host = o.substr(sep + 3);
  return (scheme == "https" || scheme == "http") && !host.empty() &&
         host.find_first_of("/?#@ ") == std::string_view::npos;
}

// An origin's tuple: scheme and host lowercased, the port explicit (443 for
// https, 80 for http when none is written).
struct OriginTuple {
  std::string scheme;
  std::string host;
  int port = 0;
  bool operator==(const OriginTuple&) const = default;
};

// Origin header or configured origin -> tuple; nullopt for anything else
// (including `null`, paths, user info, a bad port).
std::optional<OriginTuple> parse_origin(std::string_view origin);

// This request's own origin: the scheme it arrived on and its Host header
// (host[:port], IPv6 in brackets).
std::optional<OriginTuple> request_origin(std::string_view scheme, std::string_view host_header);

// `origin` (a header value) is the request's own origin: same scheme, host
// and port. Compares tuples, never strings.
bool same_origin(std::string_view origin, std::string_view scheme, std::string_view host_header);

// `origin` is one of `allowed` (configured origins), compared as tuples.
bool origin_listed(std::string_view origin, const std::vector<std::string>& allowed);

// The page behind a request's Origin lines may act here: exactly one line
// (two: which one would the upstream read?), OWS trimmed, naming one of
// `allowed` or, with none listed, the request's own origin (`scheme`,
// `host_header`). The WebSocket upgrade's rule once an Origin was sent.
bool origin_allowed(const std::vector<std::string_view>& origin_lines, const std::vector<std::string>& allowed,
                    std::string_view scheme, std::string_view host_header);

// CSRF (spa_auth_csrf_origin), for an unsafe request with the token cookie:
// origin_allowed when any Origin was sent; without one, exactly one
// `Sec-Fetch-Site: same-origin` (scripts cannot set Sec-Fetch-*).
bool csrf_origin_allowed(const std::vector<std::string_view>& origin_lines,
                         const std::vector<std::string_view>& fetch_site_lines, const std::vector<std::string>& allowed,
                         std::string_view scheme, std::string_view host_header);

}  // namespace spa::core
