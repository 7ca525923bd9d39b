// RFC 7515 §2 base64url: no padding, URL-safe alphabet, canonical only.
#pragma once

#include <string>
#include <string_view>

namespace spa::core {

// Decodes strictly: rejects '=', characters outside [A-Za-z0-9_-], a length
// of 1 mod 4, and non-zero trailing bits (so each value has one encoding).
bool base64url_decode(std::string_view in, std::string& out);

std::string base64url_encode(std::string_view in);

}  // namespace spa::core
