// JSON parsing for untrusted input: nlohmann/json plus the checks RFC 7515
// §4/RFC 7519 §4 ask of a JOSE consumer (duplicate member names are an
// error) and bounds so a hostile document cannot make us work hard.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace spa::core {

struct JsonLimits {
  size_t max_bytes = 64 * 1024;
  int max_depth = 16;
};

// Parses `text` into `out`. On failure returns false and sets `err` to a
// short reason fit for a log line (never the input itself).
bool parse_json_strict(std::string_view text, nlohmann::json& out, std::string& err,
                       const JsonLimits& limits = {});

}  // namespace spa::core
