// The module's lifecycle: variables (preconfiguration) and their getters;
// postconfiguration, which puts the handlers into nginx's phases, the
// header filter in front and the metrics zone in place; and what each
// worker process owns, from init_worker to exit_worker.
#include "ngx_http_spa_auth_module/spa_auth.h"

#include "core/module_defaults.h"
#include "core/query.h"
#include "core/version.h"

namespace spa::ngx {
namespace {

namespace defaults = core::module_defaults;

Worker g_worker;

// ---- variables -----------------------------------------------------------

ngx_int_t set_value(ngx_http_request_t* r, ngx_http_variable_value_t* v, std::string_view text) {
  auto* data = static_cast<u_char*>(ngx_pnalloc(r->pool, text.size() ? text.size() : 1));
  if (data == nullptr) return NGX_ERROR;
  ngx_memcpy(data, text.data(), text.size());
  v->data = data;
  v->len = text.size();
  v->valid = 1;
  v->no_cacheable = 0;
  v->not_found = 0;
  return NGX_OK;
}

// A value that lives as long as the module (no copy).
ngx_int_t set_static_value(ngx_http_variable_value_t* v, std::string_view text) {
  v->data = text_data(text);
  v->len = text.size();
  v->valid = 1;
  v->no_cacheable = 0;
  v->not_found = 0;
  return NGX_OK;
}

ngx_int_t not_found(ngx_http_variable_value_t* v) {
  v->not_found = 1;
  return NGX_OK;
}

// A claim is a variable's value only when it could be a header's: a value
// with CR/LF could split a header it is put into.
ngx_int_t set_claim_value(ngx_http_request_t* r, ngx_http_variable_value_t* v, std::string_view text) {
  if (text.empty() || !core::is_header_safe(text)) return not_found(v);
  return set_value(r, v, text);
}

enum class Var : uintptr_t { kResult, kSub, kSid, kRedactedRequest };

ngx_int_t get_variable(ngx_http_request_t* r, ngx_http_variable_value_t* v, uintptr_t data) {
  if (static_cast<Var>(data) == Var::kRedactedRequest) {
    // $request for logs: OAuth code/state and query tokens as [redacted].
    return at_boundary(r->connection->log, ngx_int_t{NGX_ERROR}, [&] {
      return set_value(r, v, core::redact_request_line(to_view(r->main->request_line),
                                                       main_settings(r).query_token_names));
    });
  }
  RequestCtx* ctx = get_ctx(r->main);
  if (ctx == nullptr) return not_found(v);
  switch (static_cast<Var>(data)) {
    case Var::kResult:
      return set_value(r, v, core::status_name(ctx->status));
    case Var::kSub:
      return ctx->token ? set_claim_value(r, v, ctx->token->claims.sub) : not_found(v);
    case Var::kSid:
      return ctx->token ? set_claim_value(r, v, ctx->token->claims.sid) : not_found(v);
    case Var::kRedactedRequest:
      break;
  }
  return not_found(v);
}

constexpr std::string_view kClaimPrefix = "spa_auth_claim_";

ngx_int_t get_claim_variable(ngx_http_request_t* r, ngx_http_variable_value_t* v, uintptr_t data) {
  return at_boundary(r->connection->log, ngx_int_t{NGX_ERROR}, [&] {
    RequestCtx* ctx = get_ctx(r->main);
    if (ctx == nullptr || !ctx->token) return not_found(v);
    std::string_view name = to_view(*reinterpret_cast<ngx_str_t*>(data));
    name.remove_prefix(kClaimPrefix.size());
    auto text = core::claim_text(ctx->token->claims.payload, name);
    if (!text || !core::is_header_safe(*text)) return not_found(v);
    return set_value(r, v, *text);
  });
}

// The upstream headers of a spa_auth_websocket location: the upstream
// hears of an upgrade only when the access handler let it through.
bool upgrade_authorized(ngx_http_request_t* r) {
  RequestCtx* ctx = get_ctx(r->main);
  return ctx != nullptr && ctx->upgrade_ok;
}

// $spa_auth_upgrade: "websocket", else no header.
ngx_int_t get_upgrade(ngx_http_request_t* r, ngx_http_variable_value_t* v, uintptr_t) {
  return upgrade_authorized(r) ? set_static_value(v, "websocket") : not_found(v);
}

// $spa_auth_connection_upgrade: "upgrade", else "close".
ngx_int_t get_connection_upgrade(ngx_http_request_t* r, ngx_http_variable_value_t* v, uintptr_t) {
  return set_static_value(v, upgrade_authorized(r) ? "upgrade" : "close");
}

// ---- phases --------------------------------------------------------------

bool add_phase_handler(ngx_http_core_main_conf_t* cmcf, ngx_http_phases phase, ngx_http_handler_pt handler) {
  auto* h = static_cast<ngx_http_handler_pt*>(ngx_array_push(&cmcf->phases[phase].handlers));
  if (h == nullptr) return false;
  *h = handler;
  return true;
}

}  // namespace

Worker& worker() { return g_worker; }

ngx_int_t add_variables(ngx_conf_t* cf) {
  struct Def {
    std::string_view name;
    ngx_http_get_variable_pt get;
    uintptr_t data;
    ngx_uint_t flags;
  };
  constexpr ngx_uint_t kNoCache = NGX_HTTP_VAR_NOCACHEABLE;
  const Def defs[] = {
      {"spa_auth_result", get_variable, static_cast<uintptr_t>(Var::kResult), kNoCache},
      {"spa_auth_sub", get_variable, static_cast<uintptr_t>(Var::kSub), kNoCache},
      {"spa_auth_sid", get_variable, static_cast<uintptr_t>(Var::kSid), kNoCache},
      {"spa_auth_redacted_request", get_variable, static_cast<uintptr_t>(Var::kRedactedRequest), kNoCache},
      {kClaimPrefix, get_claim_variable, 0, NGX_HTTP_VAR_PREFIX | kNoCache},
      {"spa_auth_connection_upgrade", get_connection_upgrade, 0, kNoCache},
      {"spa_auth_upgrade", get_upgrade, 0, kNoCache},
  };
  for (const Def& d : defs) {
    ngx_str_t name{d.name.size(), text_data(d.name)};
    ngx_http_variable_t* var = ngx_http_add_variable(cf, &name, d.flags);
    if (var == nullptr) return NGX_ERROR;
    var->get_handler = d.get;
    var->data = d.data;
  }
  return NGX_OK;
}

ngx_int_t postconfiguration(ngx_conf_t* cf) {
  auto* cmcf = static_cast<ngx_http_core_main_conf_t*>(ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module));
  // Handlers of a phase run from the last registered to the first; ours
  // goes first in the array so that nginx's own allow/deny runs before it:
  // an address that is not allowed is refused before any token is read.
  ngx_array_t& access = cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers;
  auto* h = static_cast<ngx_http_handler_pt*>(ngx_array_push(&access));
  if (h == nullptr) return NGX_ERROR;
  auto* all = static_cast<ngx_http_handler_pt*>(access.elts);
  for (ngx_uint_t i = access.nelts - 1; i > 0; --i) all[i] = all[i - 1];
  all[0] = access_handler;
  if (!add_phase_handler(cmcf, NGX_HTTP_POST_READ_PHASE, redact_request_line_handler) ||
      // Stripping runs before access so that `satisfy any` cannot skip it.
      !add_phase_handler(cmcf, NGX_HTTP_PREACCESS_PHASE, preaccess_handler) ||
      // Rate limits keyed by the client run before access, as limit_req
      // does, so refused tokens cost no signature check; limits keyed by the
      // token ($spa_auth_sub) run after access, whatever `satisfy` says.
      !add_phase_handler(cmcf, NGX_HTTP_PREACCESS_PHASE, limit_before_auth) ||
      !add_phase_handler(cmcf, NGX_HTTP_PRECONTENT_PHASE, limit_after_auth))
    return NGX_ERROR;

  install_websocket_filter();
  if (!add_metrics_zone(cf)) return NGX_ERROR;
  ngx_str_t request_id = ngx_string("request_id");
  main_settings(cf).request_id_index = ngx_http_get_variable_index(cf, &request_id);
  return NGX_OK;
}

ngx_int_t init_module(ngx_cycle_t* cycle) {
  // One line per configuration load, like nginx's own start lines (at
  // notice: `error_log ... notice;` shows it): which module build serves.
  try {
    std::string libs = core::runtime_libraries();
    ngx_log_error(NGX_LOG_NOTICE, cycle->log, 0, "spa_auth module %s loaded (%s)", core::version(), libs.c_str());
  } catch (const std::exception&) {
    // (an allocation failure: nothing to say it with)
  }
  return NGX_OK;
}

ngx_int_t init_worker(ngx_cycle_t* cycle) {
  try {
    auto* conf = static_cast<MainConf*>(ngx_http_cycle_get_module_main_conf(cycle, ngx_http_spa_auth_module));
    if (conf == nullptr) return NGX_OK;  // no http block
    size_t entries = conf->s->cache_entries.value_or(defaults::kCacheEntries);
    g_worker.cache = std::make_unique<core::VerifiedTokenCache>(entries, defaults::kMaxLeewaySeconds);
    g_worker.sessions_wanted = !conf->s->session_store.empty();
    if (g_worker.sessions_wanted) {
      // Opening also clears reader slots of killed workers. A store that
      // cannot be opened is retried once a second; until then requests
      // fail closed with 503 (logged here, once).
      g_worker.sessions = std::make_unique<core::SessionReader>();
      std::string err;
      if (!g_worker.sessions->open(conf->s->session_store, err)) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0, "spa_auth: cannot open session store: %s", err.c_str());
        g_worker.store_failing = true;
      }
    }
    return NGX_OK;
  } catch (const std::exception& e) {
    ngx_log_error(NGX_LOG_EMERG, cycle->log, 0, "spa_auth: cannot create the token cache: %s", e.what());
    return NGX_ERROR;
  }
}

void exit_worker(ngx_cycle_t*) { g_worker = Worker{}; }

}  // namespace spa::ngx
