#include "core/claims.h"

#include <algorithm>
#include <cmath>

#include "core/json_strict.h"

namespace spa::core {
namespace {

using json = nlohmann::json;

// NumericDate may be fractional (RFC 7519 §2); clamp far values so that
// adding a leeway can never overflow.
constexpr int64_t kTimeLimit = int64_t{1} << 52;

bool numeric_date(const json& v, int64_t& out) {
  if (v.is_number_unsigned()) {
    out = std::min<uint64_t>(v.get<uint64_t>(), kTimeLimit);
  } else if (v.is_number_integer()) {
    out = std::clamp<int64_t>(v.get<int64_t>(), -kTimeLimit, kTimeLimit);
  } else if (v.is_number_float()) {
    double d = std::floor(v.get<double>());
    out = d > kTimeLimit ? kTimeLimit : d < -kTimeLimit ? -kTimeLimit : static_cast<int64_t>(d);
  } else {
    return false;
  }
  return true;
}

std::string scalar_text(const json& v) {
  return v.is_string() ? v.get<std::string>() : v.dump();
}

bool matches_any(const json& claim, const std::vector<std::string>& values) {
  auto one = [&](const json& v) {
    if (v.is_object() || v.is_array() || v.is_null()) return false;
    std::string text = scalar_text(v);
    return std::find(values.begin(), values.end(), text) != values.end();
  };
  if (claim.is_array()) return std::any_of(claim.begin(), claim.end(), one);
  return one(claim);
}

}  // namespace

Status extract_claims(std::string_view payload, Claims& out, std::string& detail) {
  std::string err;
  if (!parse_json_strict(payload, out.payload, err, JsonLimits{16 * 1024, 8})) {
    detail = "payload: " + err;
    return Status::kMalformed;
  }
  const json& p = out.payload;
  if (!p.is_object()) {
    detail = "payload is not a JSON object";
    return Status::kMalformed;
  }
  auto time_claim = [&](const char* name, std::optional<int64_t>& slot) {
    auto it = p.find(name);
    if (it == p.end()) return true;
    int64_t v;
    if (!numeric_date(*it, v)) {
      detail = std::string("claim \"") + name + "\" is not a number";
      return false;
    }
    slot = v;
    return true;
  };
  std::optional<int64_t> exp;
  if (!time_claim("exp", exp) || !time_claim("nbf", out.nbf) || !time_claim("iat", out.iat) ||
      !time_claim("auth_time", out.auth_time))
    return Status::kMalformed;
  if (!exp) {
    detail = "token has no \"exp\" claim";
    return Status::kMalformed;
  }
  out.exp = *exp;
  auto string_claim = [&](const char* name, std::string& slot) {
    auto it = p.find(name);
    if (it == p.end()) return true;
    if (!it->is_string()) {
      detail = std::string("claim \"") + name + "\" is not a string";
      return false;
    }
    slot = it->get<std::string>();
    return true;
  };
  std::string iss;
  if (!string_claim("iss", iss) || !string_claim("sub", out.sub) || !string_claim("sid", out.sid))
    return Status::kMalformed;
  if (p.contains("iss")) out.iss = std::move(iss);
  if (auto it = p.find("aud"); it != p.end()) {
    if (it->is_string()) {
      out.aud.push_back(it->get<std::string>());
    } else if (it->is_array() && std::all_of(it->begin(), it->end(), [](const json& v) { return v.is_string(); })) {
      for (const auto& v : *it) out.aud.push_back(v.get<std::string>());
    } else {
      detail = "claim \"aud\" is not a string or an array of strings";
      return Status::kMalformed;
    }
  }
  if (auto it = p.find("amr"); it != p.end()) {
    if (!it->is_array() || !std::all_of(it->begin(), it->end(), [](const json& v) { return v.is_string(); })) {
      detail = "claim \"amr\" is not an array of strings";
      return Status::kMalformed;
    }
    for (const auto& v : *it) {
      const auto& m = v.get_ref<const std::string&>();
      if (m == "otp" || m == "mfa") out.second_factor = true;
    }
  }
  return Status::kOk;
}

Status check_claims(const Claims& c, const ClaimPolicy& p, int64_t now_in, std::string& detail) {
  // The clock is clamped like the claims, so no difference below overflows
  // whatever a caller passes (fuzzing found `nbf - now` with now near INT64_MIN).
  const int64_t now = std::clamp<int64_t>(now_in, -kTimeLimit, kTimeLimit);
  if (now >= c.exp + p.leeway) {
    detail = "expired " + std::to_string(now - c.exp) + "s ago";
    return Status::kExpired;
  }
  if (c.nbf && *c.nbf > now + p.leeway) {
    detail = "nbf is " + std::to_string(*c.nbf - now) + "s in the future";
    return Status::kNotYetValid;
  }
  if (c.iat && *c.iat > now + p.leeway) {
    detail = "iat is " + std::to_string(*c.iat - now) + "s in the future";
    return Status::kNotYetValid;
  }
  if (p.issuer && (!c.iss || *c.iss != *p.issuer)) {
    detail = c.iss ? "iss does not match" : "token has no iss";
    return Status::kWrongIssuer;
  }
  if (!p.audiences.empty()) {
    bool ok = std::any_of(c.aud.begin(), c.aud.end(), [&](const std::string& a) {
      return std::find(p.audiences.begin(), p.audiences.end(), a) != p.audiences.end();
    });
    if (!ok) {
      detail = c.aud.empty() ? "token has no aud" : "aud does not match";
      return Status::kWrongAudience;
    }
  }
  for (const auto& r : p.requirements) {
    auto it = c.payload.find(r.claim);
    if (it == c.payload.end() || !matches_any(*it, r.values)) {
      detail = "claim \"" + r.claim + "\" does not match";
      return Status::kForbidden;
    }
  }
  if (p.require_mfa && !c.second_factor) {
    detail = "amr shows no second factor";
    return Status::kMfaRequired;
  }
  // RFC 9470 §3 max_age; the leeway covers the clocks of issuer and proxy.
  if (p.max_age) {
    if (!c.auth_time) {
      detail = "token has no auth_time";
      return Status::kAuthTooOld;
    }
    if (*c.auth_time > now + p.leeway) {
      detail = "auth_time is in the future";
      return Status::kAuthTooOld;
    }
    if (now - *c.auth_time > *p.max_age + p.leeway) {
      detail = "authenticated " + std::to_string(now - *c.auth_time) + "s ago";
      return Status::kAuthTooOld;
    }
  }
  return Status::kOk;
}

std::optional<std::string> claim_text(const json& payload, std::string_view name) {
  auto it = payload.find(name);
  if (it == payload.end() || it->is_null()) return std::nullopt;
  if (it->is_array()) {
    std::string out;
    for (const auto& v : *it) {
      if (!out.empty()) out.push_back(',');
      out += scalar_text(v);
    }
    return out;
  }
  return scalar_text(*it);
}

bool is_header_safe(std::string_view value) {
  return std::none_of(value.begin(), value.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

}  // namespace spa::core
