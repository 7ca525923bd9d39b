#include "authd/refresh_rotation.h"

#include <nlohmann/json.hpp>

#include "core/json_strict.h"

namespace spa::authd {

std::string RefreshRecord::to_json() const {
  nlohmann::json j = {{"sid", sid},           {"user", user_id},       {"issued_at", issued_at},
                      {"expires_at", expires_at}, {"rotated_at", rotated_at}};
  if (!parent.empty()) j["parent"] = parent;
  if (!successor.empty()) j["successor"] = successor;
  if (!successor_box.empty()) j["successor_box"] = successor_box;
  return j.dump();
}

std::optional<RefreshRecord> RefreshRecord::from_json(std::string_view text) {
  nlohmann::json j;
  std::string err;
  if (!core::parse_json_strict(text, j, err) || !j.is_object()) return std::nullopt;
  try {
    RefreshRecord r;
    r.sid = j.at("sid").get<std::string>();
    r.user_id = j.at("user").get<std::string>();
    r.issued_at = j.at("issued_at").get<int64_t>();
    r.expires_at = j.at("expires_at").get<int64_t>();
    r.rotated_at = j.at("rotated_at").get<int64_t>();
    r.parent = j.value("parent", "");
    r.successor = j.value("successor", "");
    r.successor_box = j.value("successor_box", "");
    return r;
  } catch (const nlohmann::json::exception&) {
    return std::nullopt;
  }
}

RefreshDecision decide_refresh(const RefreshRecord* r, bool session_active, int64_t now, int64_t grace) {
  if (r == nullptr) return RefreshDecision::kUnknown;
  if (r->rotated_at != 0) {
    // The window is `grace` either side of the rotation: a clock that
    // stepped back further (NTP) must not make every later use look like
    // a parallel tab's and hand the successor to the holder of a stolen,
    // rotated-out token for as long as the step.
    int64_t since = now - r->rotated_at;
    if (since <= grace && since >= -grace && !r->successor_box.empty() && session_active)
      return RefreshDecision::kSameSuccessor;
    return RefreshDecision::kReuse;
  }
  if (!session_active) return RefreshDecision::kSessionEnded;
  if (now >= r->expires_at) return RefreshDecision::kExpired;
  return RefreshDecision::kRotate;
}

}  // namespace spa::authd
