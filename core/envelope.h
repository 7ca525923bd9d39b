// The project's JSON response envelope, shared by the module's refusals
// and every spa-authd response:
//   {"success":true,"data":{...},"meta":{"timestamp","version":"v1","requestId"}}
//   {"success":false,"error":{"code","message"},"meta":{...}}
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace spa::core {

// RFC 3339 UTC, second precision: 2026-11-22T09:07:38Z.
std::string utc_timestamp(int64_t unix_seconds);

// `value` as compact JSON text that is safe wherever a browser might take
// it for HTML: '<', '>' and '&' are written \u003c, \u003e, \u0026 (as
// Go's encoding/json does), invalid UTF-8 from a client becomes U+FFFD.
std::string json_text(const nlohmann::ordered_json& value);

std::string success_envelope(const nlohmann::json& data, std::string_view request_id, int64_t now);
std::string error_envelope(std::string_view code, std::string_view message, std::string_view request_id,
                           int64_t now);

}  // namespace spa::core
