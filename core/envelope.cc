#include "core/envelope.h"

#include <ctime>

namespace spa::core {
namespace {

// ordered_json keeps the documented member order: success, data/error, meta.
using Ordered = nlohmann::ordered_json;

Ordered meta(std::string_view request_id, int64_t now) {
  return {{"timestamp", utc_timestamp(now)}, {"version", "v1"}, {"requestId", std::string(request_id)}};
}

}  // namespace

std::string json_text(const nlohmann::ordered_json& value) {
  // Replace, not throw, on invalid UTF-8 that came from a client.
  std::string text = value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  // Most answers (every refusal of the module) hold none: no second copy.
  if (text.find_first_of("<>&") == std::string::npos) return text;
  std::string out;
  out.reserve(text.size());
  // Outside strings JSON has none of these, so escaping every one is exact.
  for (char c : text) {
    if (c == '<') out += "\\u003c";
    else if (c == '>') out += "\\u003e";
    else if (c == '&') out += "\\u0026";
    else out += c;
  }
  return out;
}

std::string utc_timestamp(int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm;
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string success_envelope(const nlohmann::json& data, std::string_view request_id, int64_t now) {
  return json_text({{"success", true}, {"data", Ordered(data)}, {"meta", meta(request_id, now)}});
}

std::string error_envelope(std::string_view code, std::string_view message, std::string_view request_id,
                           int64_t now) {
  Ordered body = {{"success", false},
                         {"error", {{"code", std::string(code)}, {"message", std::string(message)}}},
                         {"meta", meta(request_id, now)}};
  return json_text(body);
}

}  // namespace spa::core
