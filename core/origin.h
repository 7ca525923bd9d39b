// Web origins (RFC 6454) as configured and as browsers send them.
#pragma once

#include <string_view>

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

}  // namespace spa::core
