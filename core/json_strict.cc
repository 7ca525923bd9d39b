#include "core/json_strict.h"

#include <vector>

namespace spa::core {
namespace {

struct StrictJsonError {
  const char* reason;
};

}  // namespace

bool parse_json_strict(std::string_view text, nlohmann::json& out, std::string& err,
                       const JsonLimits& limits) {
  using json = nlohmann::json;
  if (text.size() > limits.max_bytes) {
    err = "JSON document too large";
    return false;
  }
  // Duplicate names collapse into one member, so an object that saw more
  // keys than it ended up with had a duplicate. One counter per open
  // object; the parser itself is iterative, so the depth bound is about
  // work, not stack.
  std::vector<size_t> keys_seen;
  auto check = [&](int depth, json::parse_event_t event, json& parsed) -> bool {
    switch (event) {
      case json::parse_event_t::object_start:
      case json::parse_event_t::array_start:
        if (depth >= limits.max_depth) throw StrictJsonError{"JSON nested too deeply"};
        if (event == json::parse_event_t::object_start) keys_seen.push_back(0);
        break;
      case json::parse_event_t::key:
        if (!keys_seen.empty()) ++keys_seen.back();
        break;
      case json::parse_event_t::object_end:
        if (keys_seen.empty() || parsed.size() != keys_seen.back())
          throw StrictJsonError{"duplicate JSON member name"};
        keys_seen.pop_back();
        break;
      default:
        break;
    }
    return true;
  };
  try {
    out = json::parse(text.begin(), text.end(), check, /*allow_exceptions=*/true,
                      /*ignore_comments=*/false);
    return true;
  } catch (const StrictJsonError& e) {
    err = e.reason;
  } catch (const json::exception&) {
    err = "invalid JSON";
  } catch (const std::bad_alloc&) {
    err = "out of memory parsing JSON";
  }
  out = nullptr;
  return false;
}

}  // namespace spa::core
