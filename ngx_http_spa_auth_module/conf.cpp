// The conf's creation and merge: what a level inherits from the one above,
// the defaults (core/module_defaults.h) where no level set a directive, and
// what merge precomputes for the request path (the claim policy, the names
// stripped from client requests, the token carriers).
#include "ngx_http_spa_auth_module/spa_auth.h"

#include <algorithm>

#include "core/http_fields.h"
#include "core/module_defaults.h"

namespace spa::ngx {
namespace {

namespace defaults = core::module_defaults;

char* const kConfOk = NGX_CONF_OK;
char* const kConfError = static_cast<char*>(NGX_CONF_ERROR);

LocSettings& loc(void* conf) { return *static_cast<LocConf*>(conf)->s; }

template <typename T>
void inherit(std::optional<T>& child, const std::optional<T>& parent, T fallback) {
  if (!child) child = parent ? *parent : std::move(fallback);
}

void add_once(std::vector<std::string>& list, std::string_view name) {
  if (std::find(list.begin(), list.end(), name) == list.end()) list.emplace_back(name);
}

// spa_auth_token where no level set it: `header cookie=__Host-spa_at`,
// and in a WebSocket location the subprotocol pair too.
std::vector<TokenSource> default_sources(bool websocket) {
  std::vector<TokenSource> sources{{TokenSource::Kind::kHeader, ""},
                                   {TokenSource::Kind::kCookie, std::string(defaults::kAccessCookie)}};
  if (websocket) sources.push_back({TokenSource::Kind::kSubprotocol, ""});
  return sources;
}

void merge_sources(LocSettings& c, const LocSettings& p) {
  if (!c.sources && p.sources_set) c.sources = p.sources, c.sources_set = true;
  else if (!c.sources) c.sources = default_sources(*c.websocket);
  // The subprotocol pair is the only way a browser's WebSocket can carry
  // a bearer token, and the module always takes it off before proxying:
  // a spa_auth_token from an upper level must not drop it silently.
  if (*c.websocket && std::none_of(c.sources->begin(), c.sources->end(), [](const TokenSource& t) {
        return t.kind == TokenSource::Kind::kSubprotocol;
      }))
    c.sources->push_back({TokenSource::Kind::kSubprotocol, ""});
  // Cookies and query parameters that carry tokens here never go upstream
  // (nor spa-authd's access and refresh cookies, whatever the sources).
  c.token_cookies = {std::string(defaults::kAccessCookie), std::string(defaults::kRefreshCookie)};
  c.token_query_names = {std::string(defaults::kBearerQueryName)};  // RFC 6750 §2.3
  for (const auto& src : *c.sources) {
    if (src.kind == TokenSource::Kind::kCookie) add_once(c.token_cookies, src.name);
    if (src.kind == TokenSource::Kind::kQuery) add_once(c.token_query_names, src.name);
  }
}

// Names stripped from client requests: every level's claim headers, so a
// location with its own list still strips the inherited names; and the
// identity prefix, by default once any claim header is set.
void merge_identity_headers(LocSettings& c, const LocSettings& p) {
  auto fold = [](std::string_view n) { return core::fold_field_name(n); };
  c.strip_names = p.strip_names;
  using Headers = const std::vector<ClaimHeader>*;
  for (Headers list : {p.claim_headers ? Headers{&*p.claim_headers} : nullptr,
                       c.claim_headers ? Headers{&*c.claim_headers} : nullptr})
    if (list)
      for (const auto& h : *list) add_once(c.strip_names, fold(h.lowercase));
  inherit(c.claim_headers, p.claim_headers, {});
  if (!c.identity_prefix) c.identity_prefix = p.identity_prefix;
  c.strip_prefix = c.identity_prefix       ? fold(*c.identity_prefix)
                   : c.strip_names.empty() ? ""
                                           : fold(defaults::kIdentityPrefix);
}

bool resolve_limits(ngx_conf_t* cf, LocSettings& c) {
  MainSettings& main = main_settings(cf);
  for (auto& use : *c.limits) {
    for (const auto& z : main.limit_zones)
      if (z->name == use.zone_name) use.zone = z.get();
    if (use.zone == nullptr) {
      ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "spa_auth_limit in %s: no spa_auth_limit_zone named \"%s\"",
                         use.where.c_str(), use.zone_name.c_str());
      return false;
    }
  }
  return true;
}

char* merge(ngx_conf_t* cf, const LocSettings& p, LocSettings& c) {
  inherit(c.mode, p.mode, Mode::kOff);
  if (!c.jwks_set) c.jwks = p.jwks, c.jwks_set = p.jwks_set;
  if (!c.hmac_set) c.hmac = p.hmac, c.hmac_set = p.hmac_set;
  inherit(c.algorithms, p.algorithms, core::default_algorithms());
  if (!c.issuer) c.issuer = p.issuer;
  inherit(c.audiences, p.audiences, {});
  inherit(c.leeway, p.leeway, defaults::kLeewaySeconds);
  inherit(c.websocket, p.websocket, false);
  inherit(c.ws_origins, p.ws_origins, {});
  inherit(c.ws_recheck_ms, p.ws_recheck_ms, defaults::kWebSocketRecheckMs);
  merge_sources(c, p);
  inherit(c.requirements, p.requirements, {});
  inherit(c.require_mfa, p.require_mfa, false);
  if (!c.max_age) c.max_age = p.max_age;
  inherit(c.pass_token, p.pass_token, false);
  inherit(c.csrf, p.csrf, false);
  inherit(c.csrf_origins, p.csrf_origins, {});
  merge_identity_headers(c, p);
  inherit(c.limits, p.limits, {});
  if (!resolve_limits(cf, c)) return kConfError;

  if (c.algorithms->has_hmac() && !c.hmac) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "spa_auth_algorithms lists an HMAC algorithm but no spa_auth_hmac_secret_file is set");
    return kConfError;
  }
  if (*c.mode != Mode::kOff && !c.jwks && !c.hmac) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "spa_auth is enabled but no spa_auth_jwks_file is set");
    return kConfError;
  }
  c.policy.issuer = c.issuer;
  c.policy.audiences = *c.audiences;
  c.policy.leeway = *c.leeway;
  c.policy.requirements = *c.requirements;
  c.policy.require_mfa = *c.require_mfa;
  if (c.max_age && *c.max_age > 0) c.policy.max_age = c.max_age;
  else c.policy.max_age.reset();
  return kConfOk;
}

// ngx_pcalloc zeroes the pointer; the settings object starts with every
// directive unset.
template <typename Conf, typename Settings>
void* create_conf(ngx_conf_t* cf) noexcept {
  try {
    auto* conf = static_cast<Conf*>(ngx_pcalloc(cf->pool, sizeof(Conf)));
    if (conf == nullptr) return nullptr;
    conf->s = pool_new<Settings>(cf->pool);
    return conf->s ? conf : nullptr;
  } catch (...) {
    return nullptr;
  }
}

}  // namespace

void* create_main_conf(ngx_conf_t* cf) { return create_conf<MainConf, MainSettings>(cf); }

void* create_loc_conf(ngx_conf_t* cf) { return create_conf<LocConf, LocSettings>(cf); }

char* merge_loc_conf(ngx_conf_t* cf, void* parent, void* child) {
  try {
    return merge(cf, loc(parent), loc(child));
  } catch (const std::exception& e) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "spa_auth: %s", e.what());
  } catch (...) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "spa_auth: internal error");
  }
  return kConfError;
}

}  // namespace spa::ngx
