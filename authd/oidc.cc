#include "authd/oidc.h"

#include <algorithm>
#include <cctype>

#include "authd/crypto.h"
#include "core/base64url.h"
#include "core/claims.h"
#include "core/json_strict.h"
#include "core/utf8.h"
#include "core/verifier.h"

namespace spa::authd::oidc {
namespace {

using json = nlohmann::json;

constexpr std::string_view kWellKnown = "/.well-known/openid-configuration";

bool has_control_or_space(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    auto u = static_cast<unsigned char>(c);
    return u <= 0x20 || u == 0x7f;
  });
}

bool all_digits(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

bool is_loopback_host(std::string_view host) {
  if (host == "localhost" || host == "[::1]") return true;
  // 127.0.0.0/8 in dotted-quad form only.
  int parts = 0;
  size_t pos = 0;
  while (pos <= host.size()) {
    size_t dot = host.find('.', pos);
    std::string_view part = host.substr(pos, dot == std::string_view::npos ? std::string_view::npos : dot - pos);
    if (!all_digits(part) || part.size() > 3 || std::stoi(std::string(part)) > 255) return false;
    if (parts == 0 && part != "127") return false;
    ++parts;
    if (dot == std::string_view::npos) break;
    pos = dot + 1;
  }
  return parts == 4;
}

// "https" / "http" and the authority of an absolute URL, or false.
bool split_url(std::string_view url, std::string_view& scheme, std::string_view& host) {
  if (url.size() > 2048 || has_control_or_space(url) || url.find('#') != std::string_view::npos ||
      url.find('\\') != std::string_view::npos)
    return false;
  size_t sep = url.find("://");
  if (sep == std::string_view::npos) return false;
  scheme = url.substr(0, sep);
  if (scheme != "https" && scheme != "http") return false;
  std::string_view rest = url.substr(sep + 3);
  std::string_view authority = rest.substr(0, rest.find_first_of("/?"));
  if (authority.empty() || authority.find('@') != std::string_view::npos) return false;
  std::string_view port;
  if (authority.front() == '[') {
    size_t close = authority.find(']');
    if (close == std::string_view::npos) return false;
    host = authority.substr(0, close + 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return false;
      port = after.substr(1);
      if (!all_digits(port)) return false;
    }
  } else {
    size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (!all_digits(port)) return false;
    }
  }
  if (!port.empty() && port.size() > 5) return false;
  return !host.empty();
}

bool string_list_contains(const json& j, const char* name, std::string_view value) {
  auto it = j.find(name);
  if (it == j.end() || !it->is_array()) return false;
  return std::any_of(it->begin(), it->end(), [&](const json& v) { return v.is_string() && v.get<std::string>() == value; });
}

}  // namespace

std::string pkce_challenge(std::string_view verifier) { return core::base64url_encode(sha256(verifier)); }

bool url_allowed(std::string_view url) {
  std::string_view scheme, host;
  if (!split_url(url, scheme, host)) return false;
  return scheme == "https" || is_loopback_host(host);
}

std::string url_host(std::string_view url) {
  std::string_view scheme, host;
  return split_url(url, scheme, host) ? std::string(host) : std::string();
}

bool parse_discovery(std::string_view text, std::string_view discovery_url, ProviderMetadata& out, std::string& err) {
  if (discovery_url.size() <= kWellKnown.size() ||
      discovery_url.substr(discovery_url.size() - kWellKnown.size()) != kWellKnown) {
    err = "discovery URL must end with " + std::string(kWellKnown);
    return false;
  }
  json j;
  if (!core::parse_json_strict(text, j, err, core::JsonLimits{256 * 1024, 8}) || !j.is_object()) {
    if (err.empty()) err = "not a JSON object";
    err = "discovery document: " + err;
    return false;
  }
  auto text_of = [&](const char* name, bool required, std::string& slot) {
    auto it = j.find(name);
    if (it == j.end() && !required) return true;
    if (it == j.end() || !it->is_string() || !url_allowed(it->get<std::string>())) {
      err = std::string("discovery document: ") + name + (it == j.end() ? " is missing" : " is not an allowed URL");
      return false;
    }
    slot = it->get<std::string>();
    return true;
  };
  ProviderMetadata m;
  if (!text_of("issuer", true, m.issuer) || !text_of("authorization_endpoint", true, m.authorization_endpoint) ||
      !text_of("token_endpoint", true, m.token_endpoint) || !text_of("jwks_uri", true, m.jwks_uri) ||
      !text_of("userinfo_endpoint", false, m.userinfo_endpoint))
    return false;
  std::string_view expected = discovery_url.substr(0, discovery_url.size() - kWellKnown.size());
  if (m.issuer != expected) {
    err = "discovery document: issuer \"" + m.issuer + "\" is not " + std::string(expected);
    return false;
  }
  if (j.contains("response_types_supported") && !string_list_contains(j, "response_types_supported", "code")) {
    err = "discovery document: the provider does not offer the authorization code flow";
    return false;
  }
  if (j.contains("code_challenge_methods_supported") &&
      !string_list_contains(j, "code_challenge_methods_supported", "S256")) {
    err = "discovery document: the provider does not offer PKCE S256";
    return false;
  }
  // OIDC Discovery: RS256 when the list is absent. HMAC-signed ID tokens
  // (keyed with the client secret) are never accepted.
  if (auto it = j.find("id_token_signing_alg_values_supported"); it != j.end() && it->is_array()) {
    for (const auto& a : *it)
      if (a.is_string())
        if (auto alg = core::alg_from_name(a.get<std::string>()); alg && !core::alg_is_hmac(*alg)) m.id_token_algs.add(*alg);
  } else {
    m.id_token_algs.add(core::Alg::kRS256);
  }
  if (m.id_token_algs.empty()) {
    err = "discovery document: no ID token signing algorithm we accept";
    return false;
  }
  // RFC 8414: client_secret_basic when the list is absent.
  if (j.contains("token_endpoint_auth_methods_supported")) {
    m.client_secret_basic = string_list_contains(j, "token_endpoint_auth_methods_supported", "client_secret_basic");
    m.client_secret_post = string_list_contains(j, "token_endpoint_auth_methods_supported", "client_secret_post");
    if (!m.client_secret_basic && !m.client_secret_post) {
      err = "discovery document: the provider offers neither client_secret_basic nor client_secret_post";
      return false;
    }
  }
  m.iss_parameter = j.value("authorization_response_iss_parameter_supported", false);
  out = std::move(m);
  return true;
}

ProviderMetadata google_metadata() {
  ProviderMetadata m;
  m.issuer = "https://accounts.google.com";
  m.issuer_aliases = {"accounts.google.com"};
  m.authorization_endpoint = "https://accounts.google.com/o/oauth2/v2/auth";
  m.token_endpoint = "https://oauth2.googleapis.com/token";
  m.userinfo_endpoint = "https://openidconnect.googleapis.com/v1/userinfo";
  m.jwks_uri = "https://www.googleapis.com/oauth2/v3/certs";
  m.id_token_algs.add(core::Alg::kRS256);
  m.client_secret_basic = true;
  m.client_secret_post = true;
  return m;
}

bool parse_provider_jwks(std::string_view text, core::Jwks& out, std::string& err) {
  json j;
  if (!core::parse_json_strict(text, j, err, core::JsonLimits{256 * 1024, 8}) || !j.is_object()) {
    if (err.empty()) err = "not a JSON object";
    err = "provider JWKS: " + err;
    return false;
  }
  auto keys = j.find("keys");
  if (keys == j.end() || !keys->is_array()) {
    err = "provider JWKS: \"keys\" must be an array";
    return false;
  }
  core::Jwks set;
  for (const auto& k : *keys) {
    std::string why;
    bool skip = false;
    if (!k.is_object()) continue;
    if (auto key = core::jwk_from_json(k, why, skip)) set.add(std::move(key));
  }
  if (set.size() == 0) {
    err = "provider JWKS: no usable signing key";
    return false;
  }
  out = std::move(set);
  return true;
}

bool parse_token_response(std::string_view text, TokenResponse& out, std::string& err) {
  json j;
  if (!core::parse_json_strict(text, j, err, core::JsonLimits{64 * 1024, 8}) || !j.is_object()) {
    if (err.empty()) err = "not a JSON object";
    err = "token response: " + err;
    return false;
  }
  auto str = [&](const char* name) -> std::string {
    auto it = j.find(name);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  std::string type = str("token_type");
  std::transform(type.begin(), type.end(), type.begin(), [](unsigned char c) { return std::tolower(c); });
  if (type != "bearer") {
    err = "token response: token_type is not Bearer";
    return false;
  }
  out.access_token = str("access_token");
  out.id_token = str("id_token");
  if (out.access_token.empty() || out.id_token.empty()) {
    err = std::string("token response: no ") + (out.access_token.empty() ? "access_token" : "id_token");
    return false;
  }
  return true;
}

IdTokenResult verify_id_token(std::string_view token, const core::Jwks& keys, const IdTokenCheck& check, json& claims,
                              std::string& reason) {
  const ProviderMetadata& p = *check.provider;
  core::VerifiedTokenPtr verified;
  core::KeySource source{&keys, nullptr};
  core::Status s = core::verify_access_token(token, source, p.id_token_algs, verified, reason);
  if (s == core::Status::kUnknownKid) return IdTokenResult::kUnknownKey;
  if (s != core::Status::kOk) return IdTokenResult::kInvalid;
  const core::Claims& c = verified->claims;
  core::ClaimPolicy policy;
  policy.audiences = {check.client_id};
  policy.leeway = check.leeway;
  if (core::check_claims(c, policy, check.now, reason) != core::Status::kOk) return IdTokenResult::kInvalid;
  auto invalid = [&](std::string why) {
    reason = std::move(why);
    return IdTokenResult::kInvalid;
  };
  if (!c.iss || (*c.iss != p.issuer && std::find(p.issuer_aliases.begin(), p.issuer_aliases.end(), *c.iss) ==
                                           p.issuer_aliases.end()))
    return invalid("iss is not the provider's issuer");
  if (c.sub.empty() || c.sub.size() > 255) return invalid("sub is missing or longer than 255 characters");
  auto azp = c.payload.find("azp");
  if (azp != c.payload.end() && (!azp->is_string() || azp->get<std::string>() != check.client_id))
    return invalid("azp is not our client_id");
  if (c.aud.size() > 1 && azp == c.payload.end()) return invalid("several audiences and no azp");
  if (!c.iat) return invalid("iat is missing");
  if (*c.iat < check.now - check.max_age) return invalid("iat is too old");
  auto nonce = c.payload.find("nonce");
  if (nonce == c.payload.end() || !nonce->is_string() || !equal_secret(nonce->get<std::string>(), check.nonce))
    return invalid("nonce does not match");
  claims = c.payload;
  return IdTokenResult::kOk;
}

std::optional<std::string> safe_redirect(std::string_view target, const std::vector<std::string>& allowed) {
  // Not UTF-8 (a decoded %FF): it would be stored and sent as Location.
  if (target.empty() || target.size() > 2048 || has_control_or_space(target) ||
      target.find('\\') != std::string_view::npos || !core::utf8_valid(target))
    return std::nullopt;
  // A path on this site; "//host" would be another site.
  if (target.front() == '/') {
    if (target.size() > 1 && target[1] == '/') return std::nullopt;
    return std::string(target);
  }
  if (!url_allowed(target)) return std::nullopt;
  for (const auto& a : allowed) {
    if (target == a) return std::string(target);
    if (!a.empty() && a.back() == '/' && target.substr(0, a.size()) == a) return std::string(target);
  }
  return std::nullopt;
}

std::string percent_encode(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string form_encode(const std::vector<std::pair<std::string, std::string>>& fields) {
  std::string out;
  for (const auto& [k, v] : fields) {
    if (!out.empty()) out += '&';
    out += percent_encode(k) + "=" + percent_encode(v);
  }
  return out;
}

}  // namespace spa::authd::oidc
