// JWT claims (RFC 7519 §4.1) and the per-location policy applied to them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/module_defaults.h"
#include "core/status.h"

namespace spa::core {

struct Claims {
  nlohmann::json payload;           // whole claims object, for $spa_auth_claim_NAME
  int64_t exp = 0;                  // required: we accept no token that never expires
  std::optional<int64_t> nbf;
  std::optional<int64_t> iat;
  std::optional<int64_t> auth_time;  // when the user last authenticated (OIDC Core §2)
  std::optional<std::string> iss;
  std::vector<std::string> aud;
  std::string sub;
  std::string sid;
  bool second_factor = false;       // "amr" lists "otp" or "mfa" (RFC 8176)
};

// Parses the payload as a JSON object and extracts the registered claims,
// checking their types: exp/nbf/iat numbers, iss/sub/sid strings, aud a
// string or array of strings, amr an array of strings. kMalformed otherwise.
Status extract_claims(std::string_view payload, Claims& out, std::string& detail);

struct ClaimRequirement {
  std::string claim;
  std::vector<std::string> values;  // the claim must equal, or contain, one
};

struct ClaimPolicy {
  std::optional<std::string> issuer;
  std::vector<std::string> audiences;   // empty: aud not checked
  int64_t leeway = module_defaults::kLeewaySeconds;  // seconds, for exp/nbf/iat
  std::vector<ClaimRequirement> requirements;
  bool require_mfa = false;
  std::optional<int64_t> max_age;       // seconds: auth_time at most this old (plus leeway)
};

// First failure wins, in this order: expired, not_yet_valid, wrong_issuer,
// wrong_audience, forbidden, mfa_required, auth_too_old. `now` is Unix seconds.
Status check_claims(const Claims& c, const ClaimPolicy& p, int64_t now, std::string& detail);

// A claim as text: strings as they are, numbers and booleans as JSON,
// arrays joined with commas, objects as compact JSON. nullopt if absent.
std::optional<std::string> claim_text(const nlohmann::json& payload, std::string_view name);

// A value may become an HTTP header only if it has no control characters.
bool is_header_safe(std::string_view value);

}  // namespace spa::core
