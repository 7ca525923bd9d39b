// Directive handlers and nginx's directive table (directive_list.h). Every
// bad value fails `nginx -t` with the directive and the value named. The
// limit directives are in directives_limit.cpp; creation and merge of the
// conf in conf.cpp.
#include "ngx_http_spa_auth_module/directives.h"

#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <string>

#include "core/module_defaults.h"
#include "core/names.h"
#include "core/origin.h"
#include "core/session_reader.h"

namespace spa::ngx {
namespace directives {
namespace {

namespace defaults = core::module_defaults;

// Paths are relative to nginx's prefix, as for other nginx file directives.
bool full_path(ngx_conf_t* cf, ngx_uint_t i, std::string& out) {
  ngx_str_t name = args(cf)[i];
  if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) return false;
  out = std::string(to_view(name));
  return true;
}

std::string lowercase(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// on|off into an optional<bool>, once per level.
char* set_flag(ngx_conf_t* cf, std::optional<bool>& slot) {
  if (slot) return duplicate();
  std::string v = arg(cf, 1);
  if (v == "on") slot = true;
  else if (v == "off") slot = false;
  else return invalid(cf, 1);
  return kConfOk;
}

char* set_mode(ngx_conf_t* cf, ngx_command_t*, void* conf) {
  auto& s = loc(conf);
  if (s.mode) return duplicate();
  std::string v = arg(cf, 1);
  if (v == "on") s.mode = Mode::kOn;
  else if (v == "off") s.mode = Mode::kOff;
  else if (v == "optional") s.mode = Mode::kOptional;
  else return invalid(cf, 1);
  return kConfOk;
}

char* set_jwks_file(ngx_conf_t* cf, ngx_command_t*, void* conf) {
  auto& s = loc(conf);
  if (s.jwks_set) return duplicate();
  std::string path;
  if (!full_path(cf, 1, path)) return kConfError;
  MainSettings& main = main_settings(cf);
  for (auto& f : main.jwks_files)
    if (f->path() == path) {
      s.jwks = f.get();
      s.jwks_set = true;
      return kConfOk;
    }
  auto file = std::make_unique<core::JwksFile>(path, core::real_file_system());
  std::string err;
  std::vector<std::string> warnings;
  if (!file->load(err, warnings)) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "spa_auth_jwks_file \"%s\": %s", path.c_str(), err.c_str());
    return kConfError;
  }
  for (const auto& w : warnings)
    ngx_conf_log_error(NGX_LOG_WARN, cf, 0, "spa_auth_jwks_file \"%s\": %s", path.c_str(), w.c_str());
  s.jwks = file.get();
  s.jwks_set = true;
  main.jwks_files.push_back(std::move(file));
  return kConfOk;
}

char* set_hmac_secret_file(ngx_conf_t* cf, ngx_command_t*, void* conf) {
  auto& s = loc(conf);
  if (s.hmac_set) return duplicate();
  std::string path, secret, err;
  if (!full_path(cf, 1, path)) return kConfError;
  if (core::read_small_file(core::real_file_system(), path, secret, err)) {
    // A trailing newline from `echo secret > file` is not part of the secret.
    while (!secret.empty() && (secret.back() == '\n' || secret.back() == '\r')) secret.pop_back();
    s.hmac = core::jwk_from_hmac_secret(std::move(secret), err);
  }
  if (!s.hmac) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "spa_auth_hmac_secret_file \"%s\": %s", path.c_str(), err.c_str());
    return kConfError;
  }
  s.hmac_set = true;
  return kConfOk;
}

char* set_algorithms(ngx_conf_t* cf, ngx_command_t*, void* conf) {
  auto& s = loc(conf);
  if (s.algorithms) return duplicate();
  core::AlgSet set;
  for (ngx_uint_t i = 1; i < cf->args->nelts; ++i) {
    std::string name = arg(cf, i);
    if (lowercase(name) == "none") {
      ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "spa_auth_algorithms: \"%V\" is never accepted", &args(cf)[i]);
      return kConfError;
    }
    auto a = core::alg_from_name(name);
    if (!a) {
      ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                         "spa_auth_algorithms: unknown algorithm \"%V\" (known: EdDSA ES256 ES384 "
                         "RS256 RS384 RS512 PS256 PS384 PS512 HS256 HS384 HS512)",
                         &args(cf)[i]);
      return kConfError;
    }
    set.add(*a);
  }
  s.algorithms = set;
  return kConfOk;
}

char* set_issuer(ngx_conf_t* cf, ngx_command_t*, void* conf) {
  auto& s = loc(conf);
  if (s.issuer) return duplicate();
  if (args(cf)[1].len == 0) return invalid(cf, 1);
  s.issuer = arg(cf, 1);
  return kConfOk;
}

char* set_audience(ngx_conf_t* cf, ngx_command_t*, void* conf) {
  auto& s = loc(conf);
  if (s.audiences) return duplicate();
  s.audiences.emplace();
  for (ngx_uint_t i = 1; i < cf->args->nelts; ++i) {
    if (args(cf)[i].len == 0) return invalid(cf, i);
    s.audiences->push_back(arg(cf, i));
  }
  return kConfOk;
}

char* set_leeway(ngx_conf_t* cf, ngx_command_t*, void* conf) {
  auto& s = loc(conf);
  if (s.leeway) return duplicate();
  time_t t = ngx_parse_time(&args(cf)[1], 1);
  if (t == static_cast<time_t>(NGX_ERROR) || t > defaults::kMaxLeewaySeconds) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "spa_auth_leeway: invalid time \"%V\" (0 to %Ls)", &args(cf)[1],
                       static_cast<int64_t>(defaults::kMaxLeewaySeconds));
    return kConfError;
  }
  s.leeway = t;
  return kConfOk;
}

// `prefix=NAME` with a valid NAME: NAME, else nullopt.
std::optional<std::string> named_parameter(const std::string& v, std::string_view prefix) {
  if (v.rfind(prefix, 0) != 0) return std::nullopt;
  std::string name = v.substr(prefix.size());
  if (!core::valid_name(name, core::NameKind::kParameter)) return std::nullopt;
  return name;
}

char* set_token_sources(ngx_conf_t* cf, ngx_command_t*, void* conf) {
  auto& s = loc(conf);
  if (s.sources) return duplicate();
  s.sources.emplace();
  s.sources_set = true;
  for (ngx_uint_t i = 1; i < cf->args->nelts; ++i) {
    std::string v = arg(cf, i);
    TokenSource src;
    if (v == "header") {
      src.kind = TokenSource::Kind::kHeader;
    } else if (auto cookie = named_parameter(v, "cookie=")) {
      src.kind = TokenSource::Kind::kCookie;
      src.name = *cookie;
    } else if (auto query = named_parameter(v, "query=")) {
      src.kind = TokenSource::Kind::kQuery;
      src.name = *query;
      // $spa_auth_redacted_request hides every query token name, wherever configured.
      auto& names = main_settings(cf).query_token_names;
      if (std::find(names.begin(), names.end(), src.name) == names.end()) names.push_back(src.name);
    } else if (v == "subprotocol") {
      src.kind = TokenSource::Kind::kSubprotocol;
    } else {
      return invalid(cf, i);
    }
    s.sources->push_back(std::move(src));
  }
  return kConfOk;
}

char* add_requirement(ngx_conf_t* cf, ngx_command_t*, void* conf) {
  auto& s = loc(conf);
  if (!s.requirements) s.requirements.emplace();
  core::ClaimRequirement r;
  r.claim = arg(cf, 1);
  if (r.claim.empty()) return invalid(cf, 1);
  for (ngx_uint_t i = 2; i < cf->args->nelts; ++i) r.values.push_back(arg(cf, i));
  s.requirements->push_back(std::move(r));
  return kConfOk;
}

char* set_require_mfa(ngx_conf_t* cf, ngx_command_t*, void* conf) { return set_flag(cf, loc(conf).require_mfa); }

// spa_auth_max_age TIME | off: auth_time at most TIME old (RFC 9470 max_age).
char* set_max_age(ngx_conf_t* cf, ngx_command_t*, void* conf) {
  auto& s = loc(conf);
  if (s.max_age) return duplicate();
  if (arg(cf, 1) == "off") {
    s.max_age = 0;  // off: not checked here
    return kConfOk;
  }
  time_t t = ngx_parse_time(&args(cf)[1], 1);
  if (t == static_cast<time_t>(NGX_ERROR) || t < defaults::kMinMaxAgeSeconds || t > defaults::kMaxMaxAgeSeconds) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "spa_auth_max_age: invalid time \"%V\" (1s to 366d)", &args(cf)[1]);
    return kConfError;
  }
  s.max_age = t;
  return kConfOk;
}

char* set_pass_token(ngx_conf_t* cf, ngx_command_t*, void* conf) { return set_flag(cf, loc(conf).pass_token); }

// spa_auth_csrf_origin ORIGIN ... | on | off; `on`: the same origin only.
char* set_csrf_origin(ngx_conf_t* cf, ngx_command_t*, void* conf) {
  auto& s = loc(conf);
  if (s.csrf) return duplicate();
  std::string first = arg(cf, 1);
  if (first == "on" || first == "off") {
    if (cf->args->nelts > 2) return invalid(cf, 2);
    s.csrf = first == "on";
    s.csrf_origins.emplace();
    return kConfOk;
  }
  s.csrf = true;
  s.csrf_origins.emplace();
  for (ngx_uint_t i = 1; i < cf->args->nelts; ++i) {
    std::string o = arg(cf, i);
    if (!core::parse_origin(o)) {
      ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                         "spa_auth_csrf_origin: \"%V\" is not an origin like https://app.example.com", &args(cf)[i]);
      return kConfError;
    }
    s.csrf_origins->push_back(std::move(o));
  }
  return kConfOk;
}

// spa_auth_identity_prefix PREFIX | off
char* set_identity_prefix(ngx_conf_t* cf, ngx_command_t*, void* conf) {
  auto& s = loc(conf);
  if (s.identity_prefix) return duplicate();
  std::string v = arg(cf, 1);
  if (v == "off") {
    s.identity_prefix = "";
    return kConfOk;
  }
  if (!core::valid_name(v, core::NameKind::kHeader) || v.size() < defaults::kMinIdentityPrefix) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "spa_auth_identity_prefix: invalid header name prefix \"%V\" (letters, digits, '-', '_')",
                       &args(cf)[1]);
    return kConfError;
  }
  s.identity_prefix = v;
  return kConfOk;
}

char* add_claim_header(ngx_conf_t* cf, ngx_command_t*, void* conf) {
  auto& s = loc(conf);
  if (!s.claim_headers) s.claim_headers.emplace();
  ClaimHeader h;
  h.header = arg(cf, 1);
  h.claim = arg(cf, 2);
  if (!core::valid_name(h.header, core::NameKind::kHeader)) return invalid(cf, 1);
  if (h.claim.empty()) return invalid(cf, 2);
  h.lowercase = lowercase(h.header);
  if (h.lowercase == "authorization" || h.lowercase == "cookie" || h.lowercase == "host") {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "spa_auth_claim_header: \"%V\" cannot carry a claim", &args(cf)[1]);
    return kConfError;
  }
  for (const auto& other : *s.claim_headers)
    if (other.lowercase == h.lowercase) return duplicate();
  h.hash = ngx_hash_key(reinterpret_cast<u_char*>(h.lowercase.data()), h.lowercase.size());
  s.claim_headers->push_back(std::move(h));
  return kConfOk;
}

char* set_cache_size(ngx_conf_t* cf, ngx_command_t*, void*) {
  MainSettings& main = main_settings(cf);
  if (main.cache_entries) return duplicate();
  ngx_int_t n = ngx_atoi(args(cf)[1].data, args(cf)[1].len);
  if (n == NGX_ERROR || static_cast<size_t>(n) > defaults::kMaxCacheEntries) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "spa_auth_cache_size: invalid number \"%V\" (0 to %uz)", &args(cf)[1],
                       defaults::kMaxCacheEntries);
    return kConfError;
  }
  main.cache_entries = static_cast<size_t>(n);
  return kConfOk;
}

char* set_session_store(ngx_conf_t* cf, ngx_command_t*, void*) {
  MainSettings& main = main_settings(cf);
  if (!main.session_store.empty()) return duplicate();
  std::string path, err;
  if (!full_path(cf, 1, path)) return kConfError;
  // Opened here only to fail `nginx -t` early; each worker opens its own
  // handle (LMDB environments must not cross fork()).
  core::SessionReader probe;
  if (!probe.open(path, err)) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "spa_auth_session_store \"%s\": %s", path.c_str(), err.c_str());
    return kConfError;
  }
  main.session_store = path;
  return kConfOk;
}

// Runs one of ngx_http_proxy_module's own directives at the current level,
// as if the configuration said it. nullptr when it worked, or what the
// proxy module answered.
const char* proxy_directive(ngx_conf_t* cf, std::initializer_list<const char*> words) {
  ngx_command_t* cmd = ngx_http_proxy_module.commands;
  std::string_view name = *words.begin();
  while (cmd->name.len && to_view(cmd->name) != name) ++cmd;
  if (!cmd->name.len) return "is not known to this nginx";
  ngx_array_t* args = ngx_array_create(cf->pool, words.size(), sizeof(ngx_str_t));
  if (args == nullptr) return "out of memory";
  for (const char* w : words) {
    auto* a = static_cast<ngx_str_t*>(ngx_array_push(args));
    a->len = std::strlen(w);
    a->data = reinterpret_cast<u_char*>(const_cast<char*>(w));
  }
  void* conf = reinterpret_cast<ngx_http_conf_ctx_t*>(cf->ctx)->loc_conf[ngx_http_proxy_module.ctx_index];
  ngx_array_t* saved = cf->args;
  cf->args = args;
  char* rv = cmd->set(cf, cmd, conf);
  cf->args = saved;
  return rv == NGX_CONF_OK ? nullptr : rv;
}

// spa_auth_websocket on|off. `on` also says, for proxy_pass at this level,
// what every WebSocket location needs: HTTP/1.1 and the Upgrade and
// Connection headers.
char* set_websocket(ngx_conf_t* cf, ngx_command_t*, void* conf) {
  auto& s = loc(conf);
  if (s.websocket) return duplicate();
  std::string v = arg(cf, 1);
  if (v == "off") {
    s.websocket = false;
    return kConfOk;
  }
  if (v != "on") return invalid(cf, 1);
  s.websocket = true;
  const char* rv = proxy_directive(cf, {"proxy_http_version", "1.1"});
  if (rv != nullptr && std::string_view(rv) != "is duplicate") {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "spa_auth_websocket: proxy_http_version 1.1 %s", rv);
    return kConfError;
  }
  for (auto words : {std::initializer_list<const char*>{"proxy_set_header", "Upgrade", "$spa_auth_upgrade"},
                     std::initializer_list<const char*>{"proxy_set_header", "Connection", "$spa_auth_connection_upgrade"}}) {
    if ((rv = proxy_directive(cf, words)) != nullptr) {
      ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "spa_auth_websocket: %s %s", *words.begin(), rv);
      return kConfError;
    }
  }
  return kConfOk;
}

char* set_websocket_origins(ngx_conf_t* cf, ngx_command_t*, void* conf) {
  auto& s = loc(conf);
  if (s.ws_origins) return duplicate();
  s.ws_origins.emplace();
  for (ngx_uint_t i = 1; i < cf->args->nelts; ++i) {
    std::string o = arg(cf, i);
    if (!core::is_origin(o)) {
      ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                         "spa_auth_websocket_origin: \"%V\" is not an origin like https://app.example.com",
                         &args(cf)[i]);
      return kConfError;
    }
    s.ws_origins->push_back(std::move(o));
  }
  return kConfOk;
}

char* set_websocket_recheck(ngx_conf_t* cf, ngx_command_t*, void* conf) {
  auto& s = loc(conf);
  if (s.ws_recheck_ms) return duplicate();
  ngx_msec_t ms = ngx_parse_time(&args(cf)[1], 0);
  if (ms == static_cast<ngx_msec_t>(NGX_ERROR) || ms < static_cast<ngx_msec_t>(defaults::kMinWebSocketRecheckMs) ||
      ms > static_cast<ngx_msec_t>(defaults::kMaxWebSocketRecheckMs)) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "spa_auth_websocket_recheck: invalid time \"%V\" (1s to 1h)",
                       &args(cf)[1]);
    return kConfError;
  }
  s.ws_recheck_ms = static_cast<int64_t>(ms);
  return kConfOk;
}

// Wraps a handler so no C++ exception reaches nginx.
template <char* (*F)(ngx_conf_t*, ngx_command_t*, void*)>
char* guarded(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) noexcept {
  try {
    return F(cf, cmd, conf);
  } catch (const std::exception& e) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\": %s", &cmd->name, e.what());
  } catch (...) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\": internal error", &cmd->name);
  }
  return kConfError;
}

constexpr ngx_uint_t kAnyLevel = NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF;

}  // namespace

#define SPA_DIRECTIVE(name, type, handler, offset) {ngx_string(name), type, guarded<handler>, offset, 0, nullptr},

ngx_command_t commands[] = {
#include "ngx_http_spa_auth_module/directive_list.h"
    ngx_null_command,
};

#undef SPA_DIRECTIVE

}  // namespace directives
}  // namespace spa::ngx
