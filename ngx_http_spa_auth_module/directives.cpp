// Directive handlers, conf creation and merge. Every bad value fails
// `nginx -t` with the directive and the value named.
#include "ngx_http_spa_auth_module/spa_auth.h"

#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <string>

#include "core/http_fields.h"
#include "core/origin.h"
#include "core/session_reader.h"

namespace spa::ngx {
namespace {

char* const kConfOk = NGX_CONF_OK;
char* const kConfError = static_cast<char*>(NGX_CONF_ERROR);

LocSettings& loc(void* conf) { return *static_cast<LocConf*>(conf)->s; }

ngx_str_t* args(ngx_conf_t* cf) { return static_cast<ngx_str_t*>(cf->args->elts); }

std::string arg(ngx_conf_t* cf, ngx_uint_t i) { return std::string(to_view(args(cf)[i])); }

char* duplicate() { return const_cast<char*>("is duplicate"); }

char* invalid(ngx_conf_t* cf, ngx_uint_t i) {
  ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid parameter \"%V\" in \"%V\"", &args(cf)[i],
                     &args(cf)[0]);
  return kConfError;
}

// Paths are relative to nginx's prefix, as for other nginx file directives.
bool full_path(ngx_conf_t* cf, ngx_uint_t i, std::string& out) {
  ngx_str_t name = args(cf)[i];
  if (ngx_conf_full_name(cf->cycle, &name, 1) != NGX_OK) return false;
  out = std::string(to_view(name));
  return true;
}

MainSettings& main_settings(ngx_conf_t* cf) {
  return *static_cast<MainConf*>(ngx_http_conf_get_module_main_conf(cf, ngx_http_spa_auth_module))->s;
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
  auto* main = static_cast<MainConf*>(ngx_http_conf_get_module_main_conf(cf, ngx_http_spa_auth_module))->s;
  for (auto& f : main->jwks_files)
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
  main->jwks_files.push_back(std::move(file));
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
    std::string lower = name;
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    if (lower == "none") {
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
  if (t == static_cast<time_t>(NGX_ERROR) || t > kMaxLeewaySeconds) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "spa_auth_leeway: invalid time \"%V\" (0 to %Ls)",
                       &args(cf)[1], static_cast<int64_t>(kMaxLeewaySeconds));
    return kConfError;
  }
  s.leeway = t;
  return kConfOk;
}

bool valid_name(std::string_view name) {
  return !name.empty() && name.size() <= 128 &&
         std::all_of(name.begin(), name.end(), [](unsigned char c) {
           return std::isalnum(c) || c == '_' || c == '-' || c == '.';
         });
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
    } else if (v.rfind("cookie=", 0) == 0 && valid_name(v.substr(7))) {
      src.kind = TokenSource::Kind::kCookie;
      src.name = v.substr(7);
    } else if (v.rfind("query=", 0) == 0 && valid_name(v.substr(6))) {
      src.kind = TokenSource::Kind::kQuery;
      src.name = v.substr(6);
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

char* set_require_mfa(ngx_conf_t* cf, ngx_command_t*, void* conf) {
  auto& s = loc(conf);
  if (s.require_mfa) return duplicate();
  std::string v = arg(cf, 1);
  if (v == "on") s.require_mfa = true;
  else if (v == "off") s.require_mfa = false;
  else return invalid(cf, 1);
  return kConfOk;
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

// spa_auth_max_age TIME | off: auth_time at most TIME old (RFC 9470 max_age).
char* set_max_age(ngx_conf_t* cf, ngx_command_t*, void* conf) {
  auto& s = loc(conf);
  if (s.max_age) return duplicate();
  if (arg(cf, 1) == "off") {
    s.max_age = 0;  // off: not checked here
    return kConfOk;
  }
  time_t t = ngx_parse_time(&args(cf)[1], 1);
  if (t == static_cast<time_t>(NGX_ERROR) || t < 1 || t > 366 * 86400) {
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

bool valid_header_name(std::string_view name) {
  return !name.empty() && name.size() <= 128 &&
         std::all_of(name.begin(), name.end(), [](unsigned char c) { return std::isalnum(c) || c == '-' || c == '_'; });
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
  if (!valid_header_name(v) || v.size() < 2) {
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
  if (!valid_header_name(h.header)) return invalid(cf, 1);
  if (h.claim.empty()) return invalid(cf, 2);
  h.lowercase = h.header;
  std::transform(h.lowercase.begin(), h.lowercase.end(), h.lowercase.begin(),
                 [](unsigned char c) { return std::tolower(c); });
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
  auto* main = static_cast<MainConf*>(ngx_http_conf_get_module_main_conf(cf, ngx_http_spa_auth_module))->s;
  if (main->cache_entries) return duplicate();
  ngx_int_t n = ngx_atoi(args(cf)[1].data, args(cf)[1].len);
  if (n == NGX_ERROR || n > 10'000'000) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "spa_auth_cache_size: invalid number \"%V\" (0 to 10000000)",
                       &args(cf)[1]);
    return kConfError;
  }
  main->cache_entries = static_cast<size_t>(n);
  return kConfOk;
}

char* set_session_store(ngx_conf_t* cf, ngx_command_t*, void*) {
  auto* main = static_cast<MainConf*>(ngx_http_conf_get_module_main_conf(cf, ngx_http_spa_auth_module))->s;
  if (!main->session_store.empty()) return duplicate();
  std::string path, err;
  if (!full_path(cf, 1, path)) return kConfError;
  // Opened here only to fail `nginx -t` early; each worker opens its own
  // handle (LMDB environments must not cross fork()).
  core::SessionReader probe;
  if (!probe.open(path, err)) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "spa_auth_session_store \"%s\": %s", path.c_str(), err.c_str());
    return kConfError;
  }
  main->session_store = path;
  return kConfOk;
}

// spa_auth_limit_zone KEY zone=NAME:SIZE rate=N/PERIOD;
char* add_limit_zone(ngx_conf_t* cf, ngx_command_t*, void*) {
  auto zone = std::make_unique<LimitZone>();
  std::string size_text;
  bool have_rate = false;
  for (ngx_uint_t i = 2; i < cf->args->nelts; ++i) {
    std::string a = arg(cf, i);
    if (a.rfind("zone=", 0) == 0) {
      size_t colon = a.find(':');
      zone->name = a.substr(5, colon == std::string::npos ? std::string::npos : colon - 5);
      size_text = colon == std::string::npos ? "" : a.substr(colon + 1);
      bool name_ok = !zone->name.empty() && zone->name.size() <= 64 &&
                     std::all_of(zone->name.begin(), zone->name.end(),
                                 [](unsigned char c) { return std::isalnum(c) || c == '_' || c == '-'; });
      if (!name_ok) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "spa_auth_limit_zone: invalid zone name in \"%V\" (letters, digits, '_', '-')", &args(cf)[i]);
        return kConfError;
      }
    } else if (a.rfind("rate=", 0) == 0) {
      auto rate = core::parse_rate(a.substr(5));
      if (!rate) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "spa_auth_limit_zone: invalid rate \"%V\": expected N/PERIOD, N from 1 to 1000000 and "
                           "PERIOD from 1s to 1d, like rate=5/15m",
                           &args(cf)[i]);
        return kConfError;
      }
      zone->rate = *rate;
      have_rate = true;
    } else {
      return invalid(cf, i);
    }
  }
  if (zone->name.empty() || size_text.empty() || !have_rate) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "spa_auth_limit_zone needs zone=NAME:SIZE and rate=N/PERIOD");
    return kConfError;
  }
  ngx_str_t size_str{size_text.size(), reinterpret_cast<u_char*>(size_text.data())};
  ssize_t size = ngx_parse_size(&size_str);
  if (size == NGX_ERROR || size < static_cast<ssize_t>(8 * ngx_pagesize)) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "spa_auth_limit_zone \"%s\": invalid size \"%s\" (at least %uzk)",
                       zone->name.c_str(), size_text.c_str(), 8 * ngx_pagesize / 1024);
    return kConfError;
  }
  MainSettings& main = main_settings(cf);
  for (const auto& z : main.limit_zones)
    if (z->name == zone->name) {
      ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "spa_auth_limit_zone \"%s\" is already defined", zone->name.c_str());
      return kConfError;
    }
  // KEY: any complex value; one that reads the token's variables is
  // checked after the access phase, the others before it.
  zone->key_text = arg(cf, 1);
  zone->after_auth = zone->key_text.find("$spa_auth_") != std::string::npos ||
                     zone->key_text.find("${spa_auth_") != std::string::npos;
  zone->key = static_cast<ngx_http_complex_value_t*>(ngx_palloc(cf->pool, sizeof(ngx_http_complex_value_t)));
  if (zone->key == nullptr) return kConfError;
  ngx_http_compile_complex_value_t ccv;
  ngx_memzero(&ccv, sizeof ccv);
  ccv.cf = cf;
  ccv.value = &args(cf)[1];
  ccv.complex_value = zone->key;
  if (ngx_http_compile_complex_value(&ccv) != NGX_OK) return kConfError;
  // The usual key is a single variable ($binary_remote_addr, $spa_auth_sub):
  // read it by index, without building a string per request.
  std::string_view var = zone->key_text;
  if (var.size() > 3 && var.substr(0, 2) == "${" && var.back() == '}') var = var.substr(2, var.size() - 3);
  else if (var.size() > 1 && var[0] == '$') var.remove_prefix(1);
  else var = {};
  if (!var.empty() && std::all_of(var.begin(), var.end(), [](unsigned char c) { return std::isalnum(c) || c == '_'; })) {
    ngx_str_t name{var.size(), reinterpret_cast<u_char*>(const_cast<char*>(var.data()))};
    zone->key_index = ngx_http_get_variable_index(cf, &name);
    if (zone->key_index == NGX_ERROR) return kConfError;
  }

  ngx_str_t shm_name{zone->name.size(), static_cast<u_char*>(ngx_pstrdup(cf->pool, &args(cf)[2]))};
  if (shm_name.data == nullptr) return kConfError;
  shm_name.data += 5;  // past "zone=", in a copy that lives with the cycle
  zone->shm = ngx_shared_memory_add(cf, &shm_name, static_cast<size_t>(size), &ngx_http_spa_auth_module);
  if (zone->shm == nullptr) return kConfError;
  if (zone->shm->data != nullptr) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "spa_auth_limit_zone \"%s\": a shared memory zone of that name exists",
                       zone->name.c_str());
    return kConfError;
  }
  zone->policy = "\"" + zone->name + "\";q=" + std::to_string(zone->rate.limit) +
                 ";w=" + std::to_string(zone->rate.period_us / 1'000'000);
  zone->shm->init = init_limit_zone;
  zone->shm->data = zone.get();
  main.limit_zones.push_back(std::move(zone));
  return kConfOk;
}

// spa_auth_limit zone=NAME [dry_run];
char* add_limit(ngx_conf_t* cf, ngx_command_t*, void* conf) {
  auto& s = loc(conf);
  if (!s.limits) s.limits.emplace();
  LimitUse use;
  for (ngx_uint_t i = 1; i < cf->args->nelts; ++i) {
    std::string a = arg(cf, i);
    if (a.rfind("zone=", 0) == 0 && a.size() > 5) use.zone_name = a.substr(5);
    else if (a == "dry_run") use.dry_run = true;
    else return invalid(cf, i);
  }
  if (use.zone_name.empty()) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "spa_auth_limit needs zone=NAME");
    return kConfError;
  }
  for (const auto& other : *s.limits)
    if (other.zone_name == use.zone_name) return duplicate();
  use.where = std::string(to_view(cf->conf_file->file.name)) + ":" + std::to_string(cf->conf_file->line);
  s.limits->push_back(std::move(use));
  return kConfOk;
}

// spa_auth_status;
char* set_status(ngx_conf_t* cf, ngx_command_t*, void* conf) {
  auto& s = loc(conf);
  if (s.status_handler) return duplicate();
  s.status_handler = true;
  auto* clcf = static_cast<ngx_http_core_loc_conf_t*>(ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module));
  clcf->handler = status_handler;
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
  if (ms == static_cast<ngx_msec_t>(NGX_ERROR) || ms < 1000 || ms > 3600 * 1000) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "spa_auth_websocket_recheck: invalid time \"%V\" (1s to 1h)",
                       &args(cf)[1]);
    return kConfError;
  }
  s.ws_recheck_ms = static_cast<int64_t>(ms);
  return kConfOk;
}

// Wraps a handler so no C++ exception reaches nginx.
template <char* (*F)(ngx_conf_t*, ngx_command_t*, void*)>
char* guarded(ngx_conf_t* cf, ngx_command_t* cmd, void* conf) {
  try {
    return F(cf, cmd, conf);
  } catch (const std::exception& e) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\": %s", &cmd->name, e.what());
    return kConfError;
  }
}

constexpr ngx_uint_t kAnyLevel = NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF;

template <typename T>
void inherit(std::optional<T>& child, const std::optional<T>& parent, T fallback) {
  if (!child) child = parent ? *parent : std::move(fallback);
}

}  // namespace

ngx_command_t commands[] = {
    {ngx_string("spa_auth"), kAnyLevel | NGX_CONF_TAKE1, guarded<set_mode>, NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},
    {ngx_string("spa_auth_jwks_file"), kAnyLevel | NGX_CONF_TAKE1, guarded<set_jwks_file>,
     NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},
    {ngx_string("spa_auth_hmac_secret_file"), kAnyLevel | NGX_CONF_TAKE1, guarded<set_hmac_secret_file>,
     NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},
    {ngx_string("spa_auth_algorithms"), kAnyLevel | NGX_CONF_1MORE, guarded<set_algorithms>,
     NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},
    {ngx_string("spa_auth_issuer"), kAnyLevel | NGX_CONF_TAKE1, guarded<set_issuer>, NGX_HTTP_LOC_CONF_OFFSET, 0,
     nullptr},
    {ngx_string("spa_auth_audience"), kAnyLevel | NGX_CONF_1MORE, guarded<set_audience>, NGX_HTTP_LOC_CONF_OFFSET,
     0, nullptr},
    {ngx_string("spa_auth_leeway"), kAnyLevel | NGX_CONF_TAKE1, guarded<set_leeway>, NGX_HTTP_LOC_CONF_OFFSET, 0,
     nullptr},
    {ngx_string("spa_auth_token"), kAnyLevel | NGX_CONF_1MORE, guarded<set_token_sources>,
     NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},
    {ngx_string("spa_auth_require"), kAnyLevel | NGX_CONF_2MORE, guarded<add_requirement>,
     NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},
    {ngx_string("spa_auth_require_mfa"), kAnyLevel | NGX_CONF_TAKE1, guarded<set_require_mfa>,
     NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},
    {ngx_string("spa_auth_claim_header"), kAnyLevel | NGX_CONF_TAKE2, guarded<add_claim_header>,
     NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},
    {ngx_string("spa_auth_identity_prefix"), kAnyLevel | NGX_CONF_TAKE1, guarded<set_identity_prefix>,
     NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},
    {ngx_string("spa_auth_max_age"), kAnyLevel | NGX_CONF_TAKE1, guarded<set_max_age>, NGX_HTTP_LOC_CONF_OFFSET, 0,
     nullptr},
    {ngx_string("spa_auth_csrf_origin"), kAnyLevel | NGX_CONF_1MORE, guarded<set_csrf_origin>,
     NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},
    {ngx_string("spa_auth_pass_token"), kAnyLevel | NGX_CONF_TAKE1, guarded<set_pass_token>,
     NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},
    {ngx_string("spa_auth_session_store"), NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1, guarded<set_session_store>, 0, 0,
     nullptr},
    {ngx_string("spa_auth_cache_size"), NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE1, guarded<set_cache_size>, 0, 0,
     nullptr},
    {ngx_string("spa_auth_limit_zone"), NGX_HTTP_MAIN_CONF | NGX_CONF_TAKE3, guarded<add_limit_zone>, 0, 0, nullptr},
    {ngx_string("spa_auth_limit"), kAnyLevel | NGX_CONF_TAKE12, guarded<add_limit>, NGX_HTTP_LOC_CONF_OFFSET, 0,
     nullptr},
    {ngx_string("spa_auth_status"), NGX_HTTP_LOC_CONF | NGX_CONF_NOARGS, guarded<set_status>,
     NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},
    {ngx_string("spa_auth_websocket"), kAnyLevel | NGX_CONF_TAKE1, guarded<set_websocket>, NGX_HTTP_LOC_CONF_OFFSET,
     0, nullptr},
    {ngx_string("spa_auth_websocket_origin"), kAnyLevel | NGX_CONF_1MORE, guarded<set_websocket_origins>,
     NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},
    {ngx_string("spa_auth_websocket_recheck"), kAnyLevel | NGX_CONF_TAKE1, guarded<set_websocket_recheck>,
     NGX_HTTP_LOC_CONF_OFFSET, 0, nullptr},
    ngx_null_command,
};

void* create_main_conf(ngx_conf_t* cf) {
  try {
    auto* conf = static_cast<MainConf*>(ngx_pcalloc(cf->pool, sizeof(MainConf)));
    if (conf == nullptr) return nullptr;
    conf->s = pool_new<MainSettings>(cf->pool);
    return conf->s ? conf : nullptr;
  } catch (...) {
    return nullptr;
  }
}

void* create_loc_conf(ngx_conf_t* cf) {
  try {
    // ngx_pcalloc zeroes the pointer; the settings object starts with
    // every directive unset.
    auto* conf = static_cast<LocConf*>(ngx_pcalloc(cf->pool, sizeof(LocConf)));
    if (conf == nullptr) return nullptr;
    conf->s = pool_new<LocSettings>(cf->pool);
    return conf->s ? conf : nullptr;
  } catch (...) {
    return nullptr;
  }
}

char* merge_loc_conf(ngx_conf_t* cf, void* parent, void* child) {
  try {
    const LocSettings& p = loc(parent);
    LocSettings& c = loc(child);
    inherit(c.mode, p.mode, Mode::kOff);
    if (!c.jwks_set) c.jwks = p.jwks, c.jwks_set = p.jwks_set;
    if (!c.hmac_set) c.hmac = p.hmac, c.hmac_set = p.hmac_set;
    inherit(c.algorithms, p.algorithms, core::default_algorithms());
    if (!c.issuer) c.issuer = p.issuer;
    inherit(c.audiences, p.audiences, {});
    inherit(c.leeway, p.leeway, int64_t{30});
    inherit(c.websocket, p.websocket, false);
    inherit(c.ws_origins, p.ws_origins, {});
    inherit(c.ws_recheck_ms, p.ws_recheck_ms, int64_t{10'000});
    // A WebSocket location also takes the token from the subprotocol pair
    // `bearer, <jwt>` unless spa_auth_token says otherwise.
    std::vector<TokenSource> default_sources{{TokenSource::Kind::kHeader, ""},
                                             {TokenSource::Kind::kCookie, "__Host-spa_at"}};
    if (*c.websocket) default_sources.push_back({TokenSource::Kind::kSubprotocol, ""});
    if (!c.sources && p.sources_set) c.sources = p.sources, c.sources_set = true;
    else if (!c.sources) c.sources = default_sources;
    // The subprotocol pair is the only way a browser's WebSocket can carry
    // a bearer token, and the module always takes it off before proxying:
    // a spa_auth_token from an upper level must not drop it silently.
    if (*c.websocket && std::none_of(c.sources->begin(), c.sources->end(), [](const TokenSource& t) {
          return t.kind == TokenSource::Kind::kSubprotocol;
        }))
      c.sources->push_back({TokenSource::Kind::kSubprotocol, ""});
    // Cookies and query parameters that carry tokens here never go upstream
    // (nor spa-authd's access and refresh cookies, whatever the sources).
    c.token_cookies = {"__Host-spa_at", "__Secure-spa_rt"};
    c.token_query_names = {"access_token"};  // RFC 6750 §2.3: the bearer token's own URI parameter
    for (const auto& src : *c.sources) {
      if (src.kind == TokenSource::Kind::kCookie &&
          std::find(c.token_cookies.begin(), c.token_cookies.end(), src.name) == c.token_cookies.end())
        c.token_cookies.push_back(src.name);
      if (src.kind == TokenSource::Kind::kQuery &&
          std::find(c.token_query_names.begin(), c.token_query_names.end(), src.name) == c.token_query_names.end())
        c.token_query_names.push_back(src.name);
    }
    inherit(c.requirements, p.requirements, {});
    inherit(c.require_mfa, p.require_mfa, false);
    if (!c.max_age) c.max_age = p.max_age;
    inherit(c.pass_token, p.pass_token, false);
    inherit(c.csrf, p.csrf, false);
    inherit(c.csrf_origins, p.csrf_origins, {});
    // Names stripped from client requests: every level's claim headers, so
    // a location with its own list still strips the inherited names.
    auto fold = [](const std::string& n) { return core::fold_field_name(n); };
    c.strip_names = p.strip_names;
    using Headers = const std::vector<ClaimHeader>*;
    for (Headers list : {p.claim_headers ? Headers{&*p.claim_headers} : nullptr,
                         c.claim_headers ? Headers{&*c.claim_headers} : nullptr})
      if (list)
        for (const auto& h : *list)
          if (std::find(c.strip_names.begin(), c.strip_names.end(), fold(h.lowercase)) == c.strip_names.end())
            c.strip_names.push_back(fold(h.lowercase));
    inherit(c.claim_headers, p.claim_headers, {});
    if (!c.identity_prefix) c.identity_prefix = p.identity_prefix;
    c.strip_prefix = c.identity_prefix ? fold(*c.identity_prefix) : c.strip_names.empty() ? "" : "x-user-";
    inherit(c.limits, p.limits, {});
    MainSettings& main = main_settings(cf);
    for (auto& use : *c.limits) {
      for (const auto& z : main.limit_zones)
        if (z->name == use.zone_name) use.zone = z.get();
      if (use.zone == nullptr) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "spa_auth_limit in %s: no spa_auth_limit_zone named \"%s\"",
                           use.where.c_str(), use.zone_name.c_str());
        return kConfError;
      }
    }

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
  } catch (const std::exception& e) {
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "spa_auth: %s", e.what());
    return kConfError;
  }
}

}  // namespace spa::ngx
