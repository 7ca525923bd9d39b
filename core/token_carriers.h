// Where a request carries an access token: read exactly, as the module
// takes a token; recognised generously, as what must not go upstream
// (another reader might take it for a token). The glue hands over raw
// header values; nothing here knows nginx.
#pragma once

#include <optional>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace spa::core {

// Authorization: Bearer (RFC 6750 §2.1): the scheme in any case and one
// space, then the token with spaces around it trimmed. nullopt for another
// scheme or no token.
std::optional<std::string_view> bearer_token(std::string_view authorization);

// An Authorization value that may carry one of our tokens: the Bearer
// scheme, the JWT and Token schemes some upstreams read, or a compact JWS
// under any scheme or none. Basic, Digest and the like do not.
bool may_carry_token(std::string_view authorization);

// The token cookie `name` over every Cookie line (core/cookies.h): kOk with
// `token` set, kMissing (absent or empty), or kDuplicateCookie when the
// name is carried more than once (a cookie planted beside ours: refused,
// never one of them picked).
Status cookie_token(const std::vector<std::string_view>& cookie_lines, std::string_view name, std::string_view& token);

}  // namespace spa::core
