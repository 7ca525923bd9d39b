// The request path: strip spoofable headers, find the token, verify it
// (once per token, then from the per-worker cache), apply the location's
// policy, answer 401/403 or pass the claims on.
#include "ngx_http_spa_auth_module/spa_auth.h"

#include <algorithm>

#include "core/cookies.h"
#include "core/envelope.h"
#include "core/http_fields.h"
#include "core/origin.h"
#include "core/query.h"
#include "core/session_reader.h"
#include "core/token_cache.h"

namespace spa::ngx {
namespace {

using core::Status;


// Per worker process; created in init_worker, never in the master.
core::VerifiedTokenCache* g_cache = nullptr;
core::SessionReader* g_sessions = nullptr;  // when spa_auth_session_store is set
bool g_sessions_wanted = false;
bool g_store_failing = false;  // said once in the log, until the store reads again

// ---- token sources -------------------------------------------------------

bool bearer_token(ngx_http_request_t* r, std::string_view& token) {
  if (r->headers_in.authorization == nullptr) return false;
  std::string_view v = to_view(r->headers_in.authorization->value);
  constexpr std::string_view kScheme = "bearer ";
  if (v.size() <= kScheme.size() ||
      ngx_strncasecmp(reinterpret_cast<u_char*>(const_cast<char*>(v.data())),
                      reinterpret_cast<u_char*>(const_cast<char*>(kScheme.data())), kScheme.size()) != 0)
    return false;
  v.remove_prefix(kScheme.size());
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  if (v.empty()) return false;
  token = v;
  return true;
}

// Cookie names are case-sensitive (RFC 6265); nginx's own lookup is not,
// so the pairs are read by core/cookies.h. A name carried twice (a
// cookie planted beside ours) is refused, never one of them picked.
Status cookie_token(ngx_http_request_t* r, const std::string& name, std::string_view& token) {
  auto cookie = core::lookup_cookie(header_lines(r, "cookie"), name);
  if (cookie.duplicate()) return Status::kDuplicateCookie;
  if (!cookie.value || cookie.value->empty()) return Status::kMissing;
  token = *cookie.value;
  return Status::kOk;
}

bool query_token(ngx_http_request_t* r, const std::string& name, std::string_view& token) {
  ngx_str_t value;
  if (ngx_http_arg(r, reinterpret_cast<u_char*>(const_cast<char*>(name.data())), name.size(), &value) != NGX_OK)
    return false;
  if (value.len == 0) return false;
  token = to_view(value);
  return true;
}

// kOk with the token (`kind` says where it came from), kMissing, or
// kDuplicateCookie when the first source that answers is a cookie sent twice.
Status find_token(ngx_http_request_t* r, const std::vector<TokenSource>& sources, std::string_view& token,
                  TokenSource::Kind& kind) {
  for (const auto& src : sources) {
    kind = src.kind;
    switch (src.kind) {
      case TokenSource::Kind::kSubprotocol:
        if (subprotocol_token(r, token)) return Status::kOk;
        break;
      case TokenSource::Kind::kHeader:
        if (bearer_token(r, token)) return Status::kOk;
        break;
      case TokenSource::Kind::kCookie:
        if (Status st = cookie_token(r, src.name, token); st != Status::kMissing) return st;
        break;
      case TokenSource::Kind::kQuery:
        if (query_token(r, src.name, token)) return Status::kOk;
        break;
    }
  }
  return Status::kMissing;
}

// ---- tokens stop here ----------------------------------------------------

// Authorization that may carry one of our tokens: the Bearer scheme, the
// JWT/Token schemes some upstreams read, or a compact JWS under any scheme
// or none. Basic, Digest and the like stay.
bool is_bearer_authorization(const ngx_table_elt_t& h, const void*) {
  if (h.key.len != 13 || ngx_strncasecmp(h.key.data, (u_char*)"authorization", 13) != 0) return false;
  std::string_view v = core::trim_ows(to_view(h.value));
  size_t sp = v.find_first_of(" \t");
  std::string_view scheme = v.substr(0, sp);
  std::string_view rest = sp == std::string_view::npos ? v : core::trim_ows(v.substr(sp));
  auto jws_like = [](std::string_view t) {
    return t.substr(0, 3) == "eyJ" && std::count(t.begin(), t.end(), '.') >= 2;
  };
  return core::iequals(scheme, "bearer") || core::iequals(scheme, "jwt") || core::iequals(scheme, "token") ||
         jws_like(v) || jws_like(rest);
}

bool is_empty_cookie(const ngx_table_elt_t& h, const void*) {
  return h.value.len == 0 && h.key.len == 6 && ngx_strncasecmp(h.key.data, (u_char*)"cookie", 6) == 0;
}

bool set_value_copy(ngx_http_request_t* r, ngx_str_t& out, std::string_view v) {
  auto* mem = static_cast<u_char*>(ngx_pnalloc(r->pool, v.size() ? v.size() : 1));
  if (mem == nullptr) return false;
  ngx_memcpy(mem, v.data(), v.size());
  out.data = mem;
  out.len = v.size();
  return true;
}

// Nothing that can carry the token goes upstream: the Bearer
// Authorization header, the token cookies (other cookies stay), the
// query parameters, the subprotocol pair. Runs in every location that
// knows the keys (spa_auth_jwks_file or an HMAC secret at its level or
// above) unless spa_auth_pass_token is on, whichever source held the token.
bool strip_tokens(ngx_http_request_t* r, const LocSettings& s) {
  if (!remove_request_headers(r, is_bearer_authorization, nullptr)) return false;
  if (r->headers_in.authorization && is_bearer_authorization(*r->headers_in.authorization, nullptr))
    r->headers_in.authorization = nullptr;
  bool emptied = false;
  auto strip_cookie_line = [&](ngx_table_elt_t& h) {
    if (!core::may_mention(to_view(h.value), s.token_cookies)) return true;  // most requests: nothing to copy
    bool removed;
    std::string rest = core::remove_cookies(to_view(h.value), s.token_cookies, removed);
    if (!removed) return true;
    emptied = emptied || rest.empty();
    return set_value_copy(r, h.value, rest);
  };
  for (ngx_list_part_t* part = &r->headers_in.headers.part; part; part = part->next) {
    auto* h = static_cast<ngx_table_elt_t*>(part->elts);
    for (ngx_uint_t i = 0; i < part->nelts; ++i)
      if (h[i].key.len == 6 && ngx_strncasecmp(h[i].key.data, (u_char*)"cookie", 6) == 0 && !strip_cookie_line(h[i]))
        return false;
  }
  // $http_cookie and $cookie_NAME read nginx's own array, which may point
  // at elements of a list the preaccess phase replaced.
  auto** cookies = static_cast<ngx_table_elt_t**>(r->headers_in.cookies.elts);
  for (ngx_uint_t i = 0; i < r->headers_in.cookies.nelts; ++i)
    if (!strip_cookie_line(*cookies[i])) return false;
  if (emptied && !remove_request_headers(r, is_empty_cookie, nullptr)) return false;
  if (!s.token_query_names.empty() && r->args.len && core::may_mention(to_view(r->args), s.token_query_names)) {
    bool removed;
    std::string rest = core::remove_query_params(to_view(r->args), s.token_query_names, removed);
    if (removed) {
      if (!set_value_copy(r, r->args, rest)) return false;
      r->valid_unparsed_uri = 0;  // proxy_pass then builds the URI from uri and args
    }
  }
  if (!strip_subprotocol_token(r)) return false;
  return true;
}

// ---- CSRF ----------------------------------------------------------------

bool unsafe_method(ngx_http_request_t* r) {
  return !(r->method & (NGX_HTTP_GET | NGX_HTTP_HEAD | NGX_HTTP_OPTIONS | NGX_HTTP_TRACE));
}

// A cookie rides along on cross-site requests; an unsafe one must come
// from an allowed page: its Origin, or (no Origin sent) Sec-Fetch-Site.
bool csrf_origin_allowed(ngx_http_request_t* r, const LocSettings& s) {
  auto origins = header_lines(r, "origin");
  if (origins.size() > 1) return false;
  if (origins.size() == 1) {
    std::string_view o = core::trim_ows(origins[0]);
    if (!s.csrf_origins->empty()) return core::origin_listed(o, *s.csrf_origins);
    return core::same_origin(o, request_scheme(r), request_host(r));
  }
  auto site = header_lines(r, "sec-fetch-site");
  return site.size() == 1 && core::trim_ows(site[0]) == "same-origin";
}

// ---- responses -----------------------------------------------------------

// Status -> HTTP, in one place. The RFC 9470 step-up errors are 401.
ngx_int_t status_http_code(Status s) {
  switch (s) {
    case Status::kStoreUnavailable: return NGX_HTTP_SERVICE_UNAVAILABLE;
    case Status::kForbidden:
    case Status::kOriginNotAllowed: return NGX_HTTP_FORBIDDEN;
    default: return NGX_HTTP_UNAUTHORIZED;
  }
}

std::string_view status_error_code(Status s) {
  switch (s) {
    case Status::kMissing: return "missing_token";
    case Status::kForbidden: return "insufficient_scope";
    case Status::kMfaRequired:
    case Status::kAuthTooOld: return "insufficient_user_authentication";
    case Status::kStoreUnavailable: return "temporarily_unavailable";
    case Status::kOriginNotAllowed: return "origin_not_allowed";
    default: return "invalid_token";
  }
}

// RFC 6750 §3: no error attributes when the request carried no token;
// RFC 9470 §3: a step-up names the max_age the location wants.
std::string www_authenticate(Status s, const LocSettings& loc) {
  std::string v = "Bearer realm=\"spa\"";
  if (s == Status::kMissing || s == Status::kStoreUnavailable) return v;
  v += ", error=\"";
  v += status_error_code(s);
  v += "\", error_description=\"";
  v += core::status_description(s);
  v += "\"";
  if ((s == Status::kMfaRequired || s == Status::kAuthTooOld) && loc.policy.max_age)
    v += ", max_age=" + std::to_string(*loc.policy.max_age);
  return v;
}

ngx_int_t send_rejection(ngx_http_request_t* r, Status s, const LocSettings& loc) {
  if (s != Status::kOriginNotAllowed) {  // not a token problem: no challenge
    ngx_table_elt_t* h;
    if (!push_header(r, &r->headers_out.headers, "WWW-Authenticate", www_authenticate(s, loc), &h))
      return NGX_HTTP_INTERNAL_SERVER_ERROR;
    r->headers_out.www_authenticate = h;
  }
  return send_json_error(r, status_http_code(s), status_error_code(s), core::status_description(s));
}

// ---- claim headers -------------------------------------------------------

// Client headers that could pass for identity headers (fold_header_name).
bool identity_header(const ngx_table_elt_t& h, const void* arg) {
  const auto& s = *static_cast<const LocSettings*>(arg);
  std::string_view name = to_view(h.key);
  if (!s.strip_prefix.empty() && core::folded_starts_with(name, s.strip_prefix)) return true;
  return std::any_of(s.strip_names.begin(), s.strip_names.end(),
                     [&](const std::string& n) { return core::folded_equals(name, n); });
}

// The claims go upstream only if every one can be a header value;
// otherwise the request is refused (kUnsafeClaim) and nothing is added.
Status add_claim_headers(ngx_http_request_t* r, const core::Claims& claims, const std::vector<ClaimHeader>& names) {
  std::vector<std::pair<const ClaimHeader*, std::string>> values;
  for (const auto& n : names) {
    auto text = core::claim_text(claims.payload, n.claim);
    if (!text) continue;
    if (!core::is_header_safe(*text)) {
      ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                    "spa_auth: token refused: claim \"%s\" for \"%s\" has control characters", n.claim.c_str(),
                    n.header.c_str());
      return Status::kUnsafeClaim;
    }
    values.emplace_back(&n, std::move(*text));
  }
  for (const auto& [n, text] : values)
    if (!push_header(r, &r->headers_in.headers, n->header, text)) throw std::bad_alloc();
  return Status::kOk;
}

// ---- session revocation --------------------------------------------------


// ---- verification --------------------------------------------------------

Status verify(ngx_http_request_t* r, const LocSettings& s, std::string_view token, core::VerifiedTokenPtr& out) {
  core::KeySource keys{s.jwks ? s.jwks->keys().get() : nullptr, s.hmac};
  int64_t now = ngx_time();
  if (g_cache) {
    core::VerifiedTokenPtr hit = g_cache->find(token, now);
    if (hit && core::still_trusted(*hit, keys, *s.algorithms)) {
      out = std::move(hit);
      return Status::kOk;
    }
  }
  std::string detail;
  Status st = core::verify_access_token(token, keys, *s.algorithms, out, detail);
  if (st != Status::kOk) {
    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0, "spa_auth: token rejected: %s (%s)",
                  std::string(core::status_name(st)).c_str(), detail.c_str());
    return st;
  }
  if (g_cache) g_cache->insert(token, out);
  return Status::kOk;
}

void refresh_keys(ngx_http_request_t* r, core::JwksFile* file) {
  if (file == nullptr) return;
  auto result = file->refresh(now_ms());
  switch (result.outcome) {
    case core::JwksFile::Outcome::kUnchanged:
      break;
    case core::JwksFile::Outcome::kReloaded:
      ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0, "spa_auth: reloaded JWKS \"%s\" (%uz keys)",
                    file->path().c_str(), file->keys()->size());
      for (const auto& w : result.warnings)
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0, "spa_auth: JWKS \"%s\": %s", file->path().c_str(),
                      w.c_str());
      break;
    case core::JwksFile::Outcome::kFailed:
      ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                    "spa_auth: JWKS \"%s\" not reloaded, keeping the previous keys: %s", file->path().c_str(),
                    result.error.c_str());
      break;
  }
}

RequestCtx* create_ctx(ngx_http_request_t* r) {
  RequestCtx* ctx = pool_new<RequestCtx>(r->pool);
  if (ctx) ngx_http_set_ctx(r, ctx, ngx_http_spa_auth_module);
  return ctx;
}

ngx_int_t access_handler_impl(ngx_http_request_t* r) {
  if (r != r->main) return NGX_DECLINED;
  LocSettings& s = loc_settings(r);
  if (*s.mode == Mode::kOff) return NGX_DECLINED;
  RequestCtx* ctx = request_ctx(r);
  if (ctx == nullptr) return NGX_HTTP_INTERNAL_SERVER_ERROR;

  refresh_keys(r, s.jwks);
  bool upgrade = *s.websocket && is_upgrade(r);
  if (upgrade && !websocket_origin_allowed(r, s)) {
    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0, "spa_auth: websocket upgrade refused: Origin not allowed");
    ctx->status = Status::kOriginNotAllowed;
    ngx_http_finalize_request(
        r, send_json_error(r, NGX_HTTP_FORBIDDEN, "origin_not_allowed", "this page may not open this WebSocket"));
    return NGX_DONE;
  }
  std::string_view token = ctx->found_token;
  TokenSource::Kind kind = ctx->found_kind;
  Status lookup = ctx->token_lookup;
  // Preaccess read it unless the location passes tokens on (spa_auth_pass_token).
  if (!ctx->token_looked_up) lookup = find_token(r, *s.sources, token, kind);
  if (lookup == Status::kDuplicateCookie) {
    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "spa_auth: token refused: the token cookie was sent more than once");
    ctx->status = lookup;
  } else if (lookup == Status::kMissing) {
    ctx->status = Status::kMissing;
    if (*s.mode == Mode::kOptional) {
      ctx->upgrade_ok = upgrade;
      return NGX_DECLINED;
    }
  } else if (*s.csrf && kind == TokenSource::Kind::kCookie && unsafe_method(r) && !csrf_origin_allowed(r, s)) {
    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "spa_auth: request refused: unsafe method with the token cookie from an Origin not allowed");
    ctx->status = Status::kOriginNotAllowed;
  } else {
    ctx->status = verify(r, s, token, ctx->token);
    if (ctx->status == Status::kOk) {
      std::string detail;
      ctx->status = core::check_claims(ctx->token->claims, s.policy, ngx_time(), detail);
      if (ctx->status != Status::kOk) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0, "spa_auth: token refused: %s (%s)",
                      std::string(core::status_name(ctx->status)).c_str(), detail.c_str());
      } else {
        ctx->status = check_session(r, ctx->token->claims.sid, ctx->token->claims.iat);
      }
    }
    if (ctx->status == Status::kOk) ctx->status = add_claim_headers(r, ctx->token->claims, *s.claim_headers);
  }
  if (ctx->status == Status::kOk) {
    if (upgrade) {
      if (websocket_authorized(r, ctx, s, kind == TokenSource::Kind::kSubprotocol) != NGX_OK)
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
      ctx->upgrade_ok = true;
      count_websocket_authorized();
    }
    return NGX_OK;
  }
  auto* clcf = static_cast<ngx_http_core_loc_conf_t*>(ngx_http_get_module_loc_conf(r, ngx_http_core_module));
  if (clcf->satisfy == NGX_HTTP_SATISFY_ANY) {
    // Another access module may still allow the request; leave the final
    // answer to nginx, with our challenge header in place.
    ngx_table_elt_t* h;
    if (!push_header(r, &r->headers_out.headers, "WWW-Authenticate", www_authenticate(ctx->status, s), &h))
      return NGX_HTTP_INTERNAL_SERVER_ERROR;
    r->headers_out.www_authenticate = h;
    return status_http_code(ctx->status);
  }
  ngx_http_finalize_request(r, send_rejection(r, ctx->status, s));
  return NGX_DONE;
}

ngx_int_t access_handler(ngx_http_request_t* r) {
  try {
    return access_handler_impl(r);
  } catch (const std::exception& e) {
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0, "spa_auth: internal error: %s", e.what());
    return NGX_HTTP_INTERNAL_SERVER_ERROR;
  }
}

// nginx's own error-log context for a request (ngx_http_log_error_handler,
// not exported): the same for every request, kept from the first one.
ngx_http_log_handler_pt g_nginx_log_handler = nullptr;

// After nginx wrote its context (", client: …, request: …, upstream: …,
// referrer: …"), the query values of secret parameters in the upstream URI
// and the Referer become '*': the request line is redacted already, but
// proxy_pass sends the arguments on, and nginx logs that URI when the
// upstream fails.
u_char* redacting_log_handler(ngx_http_request_t* r, ngx_http_request_t* sr, u_char* buf, size_t len) {
  u_char* end = g_nginx_log_handler(r, sr, buf, len);
  try {
    auto* main = static_cast<MainConf*>(ngx_http_get_module_main_conf(r, ngx_http_spa_auth_module))->s;
    std::string_view text(reinterpret_cast<char*>(buf), static_cast<size_t>(end - buf));
    for (std::string_view marker : {std::string_view(", upstream: \""), std::string_view(", referrer: \"")}) {
      size_t at = text.find(marker);
      if (at == std::string_view::npos) continue;
      size_t from = at + marker.size(), to = text.find('"', from);
      if (to == std::string_view::npos) to = text.size();
      size_t q = text.find('?', from);
      if (q == std::string_view::npos || q >= to) continue;
      core::mask_query_secrets(reinterpret_cast<char*>(buf) + q + 1, to - q - 1, main->query_token_names);
    }
  } catch (const std::exception&) {
  }
  return end;
}

// Post-read: nginx writes r->request_line into the error log lines of a
// request (and $request into access logs); secrets in its query are
// replaced before any phase handler can log them (what nginx logs while
// still reading the headers keeps the raw line: docs/module.md). Routing
// reads uri and args, not this line, so nothing else changes.
ngx_int_t redact_request_line_handler(ngx_http_request_t* r) {
  try {
    if (r == r->main && r->log_handler != redacting_log_handler && r->log_handler != nullptr) {
      g_nginx_log_handler = r->log_handler;
      r->log_handler = redacting_log_handler;
    }
    std::string_view line = to_view(r->request_line);
    if (r != r->main || line.find('?') == std::string_view::npos) return NGX_DECLINED;
    auto* main = static_cast<MainConf*>(ngx_http_get_module_main_conf(r, ngx_http_spa_auth_module))->s;
    if (!core::may_mention(line, core::secret_query_names()) && !core::may_mention(line, main->query_token_names))
      return NGX_DECLINED;  // most request lines: no copy
    std::string redacted = core::redact_request_line(line, main->query_token_names);
    if (redacted == line) return NGX_DECLINED;
    auto* mem = static_cast<u_char*>(ngx_pnalloc(r->pool, redacted.size()));
    if (mem == nullptr) return NGX_HTTP_INTERNAL_SERVER_ERROR;
    ngx_memcpy(mem, redacted.data(), redacted.size());
    r->request_line.data = mem;
    r->request_line.len = redacted.size();
    return NGX_DECLINED;
  } catch (const std::exception& e) {
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0, "spa_auth: internal error: %s", e.what());
    return NGX_HTTP_INTERNAL_SERVER_ERROR;
  }
}

ngx_int_t preaccess_handler(ngx_http_request_t* r) {
  try {
    LocSettings& s = loc_settings(r);
    // Tokens stop at the module, before any other phase handler (an
    // auth_request subrequest, a `satisfy any` allow) can pass them on:
    // where spa_auth is on or optional the token is read first; where it
    // is off but the keys are known (a public service: the browser sends
    // __Host-spa_at, Path=/, everywhere) they are just removed.
    if (r == r->main && !*s.pass_token && (*s.mode != Mode::kOff || s.jwks || s.hmac)) {
      // The token is read before its carriers go, also where spa_auth is
      // off: an internal redirect may lead into a location that checks it.
      // A context is made only when there is something to keep.
      RequestCtx* ctx = get_ctx(r) ? get_ctx(r) : pool_find<RequestCtx>(r->pool);
      if (ctx == nullptr || !ctx->token_looked_up) {
        std::string_view token;
        TokenSource::Kind kind = TokenSource::Kind::kHeader;
        Status lookup = find_token(r, *s.sources, token, kind);
        if (lookup != Status::kMissing || *s.mode != Mode::kOff) {
          if ((ctx = request_ctx(r)) == nullptr) return NGX_HTTP_INTERNAL_SERVER_ERROR;
          ctx->token_lookup = lookup;
          ctx->found_token = token;
          ctx->found_kind = kind;
          ctx->token_looked_up = true;
        }
      } else if (get_ctx(r) == nullptr) {
        ngx_http_set_ctx(r, ctx, ngx_http_spa_auth_module);
      }
      if (!strip_tokens(r, s)) return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (s.strip_names.empty() && s.strip_prefix.empty()) return NGX_DECLINED;
    if (!remove_request_headers(r, identity_header, &s)) return NGX_HTTP_INTERNAL_SERVER_ERROR;
    return NGX_DECLINED;
  } catch (const std::exception& e) {
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0, "spa_auth: internal error: %s", e.what());
    return NGX_HTTP_INTERNAL_SERVER_ERROR;
  }
}

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

ngx_int_t not_found(ngx_http_variable_value_t* v) {
  v->not_found = 1;
  return NGX_OK;
}

enum class Var : uintptr_t { kResult, kSub, kSid, kRedactedRequest };

ngx_int_t get_variable(ngx_http_request_t* r, ngx_http_variable_value_t* v, uintptr_t data) {
  if (static_cast<Var>(data) == Var::kRedactedRequest) {
    // $request for logs: OAuth code/state and query tokens as [redacted].
    auto* main = static_cast<MainConf*>(ngx_http_get_module_main_conf(r, ngx_http_spa_auth_module))->s;
    try {
      return set_value(r, v, core::redact_request_line(to_view(r->main->request_line), main->query_token_names));
    } catch (const std::exception&) {
      return NGX_ERROR;
    }
  }
  RequestCtx* ctx = get_ctx(r->main);
  if (ctx == nullptr) return not_found(v);
  switch (static_cast<Var>(data)) {
    case Var::kResult:
      return set_value(r, v, core::status_name(ctx->status));
    case Var::kSub:
      if (!ctx->token || ctx->token->claims.sub.empty() || !core::is_header_safe(ctx->token->claims.sub))
        return not_found(v);
      return set_value(r, v, ctx->token->claims.sub);
    case Var::kSid:
      if (!ctx->token || ctx->token->claims.sid.empty() || !core::is_header_safe(ctx->token->claims.sid))
        return not_found(v);
      return set_value(r, v, ctx->token->claims.sid);
    case Var::kRedactedRequest:
      break;
  }
  return not_found(v);
}

constexpr std::string_view kClaimPrefix = "spa_auth_claim_";

ngx_int_t get_claim_variable(ngx_http_request_t* r, ngx_http_variable_value_t* v, uintptr_t data) {
  try {
    RequestCtx* ctx = get_ctx(r->main);
    if (ctx == nullptr || !ctx->token) return not_found(v);
    std::string_view name = to_view(*reinterpret_cast<ngx_str_t*>(data));
    name.remove_prefix(kClaimPrefix.size());
    auto text = core::claim_text(ctx->token->claims.payload, name);
    // A value with CR/LF could split a header it is put into; refuse it.
    if (!text || !core::is_header_safe(*text)) return not_found(v);
    return set_value(r, v, *text);
  } catch (const std::exception&) {
    return NGX_ERROR;
  }
}

}  // namespace

bool push_header(ngx_http_request_t* r, ngx_list_t* list, std::string_view key, std::string_view value,
                 ngx_table_elt_t** out) {
  auto* h = static_cast<ngx_table_elt_t*>(ngx_list_push(list));
  if (h == nullptr) return false;
  auto* mem = static_cast<u_char*>(ngx_pnalloc(r->pool, key.size() * 2 + value.size()));
  if (mem == nullptr) return false;
  ngx_memcpy(mem, key.data(), key.size());
  h->key.data = mem;
  h->key.len = key.size();
  h->lowcase_key = mem + key.size();
  ngx_strlow(h->lowcase_key, mem, key.size());
  h->value.data = mem + 2 * key.size();
  h->value.len = value.size();
  ngx_memcpy(h->value.data, value.data(), value.size());
  h->hash = ngx_hash_key(h->lowcase_key, key.size());
  if (out) *out = h;
  return true;
}

// Every request, cached token or not: a logout must take effect at once.
// A store that cannot be read refuses with 503 and is logged once per
// episode in this worker, not once per request.
Status check_session(ngx_http_request_t* r, std::string_view sid, std::optional<int64_t> iat) {
  if (!g_sessions_wanted) return Status::kOk;
  if (g_sessions == nullptr) {
    if (!g_store_failing) ngx_log_error(NGX_LOG_ERR, r->connection->log, 0, "spa_auth: session store is not open in this worker");
    g_store_failing = true;
    return Status::kStoreUnavailable;
  }
  g_sessions->refresh(ngx_time());  // a replaced or repaired file is reopened within a second
  std::string err;
  auto lookup = g_sessions->check(sid, ngx_time(), iat, err);
  if (lookup != core::SessionReader::Lookup::kError && g_store_failing) {
    g_store_failing = false;
    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0, "spa_auth: session store readable again");
  }
  switch (lookup) {
    case core::SessionReader::Lookup::kValid:
      return Status::kOk;
    case core::SessionReader::Lookup::kRevoked:
    case core::SessionReader::Lookup::kUnknown:
      ngx_log_error(NGX_LOG_INFO, r->connection->log, 0, "spa_auth: token refused: session revoked or unknown");
      return Status::kRevoked;
    case core::SessionReader::Lookup::kError:
      break;
  }
  if (!g_store_failing)
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0, "spa_auth: session store unavailable: %s", err.c_str());
  g_store_failing = true;
  return Status::kStoreUnavailable;
}

std::vector<std::string_view> header_lines(ngx_http_request_t* r, std::string_view lowercase) {
  std::vector<std::string_view> out;
  for (ngx_list_part_t* part = &r->headers_in.headers.part; part; part = part->next) {
    auto* h = static_cast<ngx_table_elt_t*>(part->elts);
    for (ngx_uint_t i = 0; i < part->nelts; ++i)
      if (h[i].key.len == lowercase.size() &&
          ngx_strncasecmp(h[i].key.data, reinterpret_cast<u_char*>(const_cast<char*>(lowercase.data())),
                          lowercase.size()) == 0)
        out.push_back(to_view(h[i].value));
  }
  return out;
}

// The list is rebuilt only when a line goes; nginx's pointers to well-known
// headers keep pointing at the old, unchanged elements.
bool remove_request_headers(ngx_http_request_t* r, bool (*drop)(const ngx_table_elt_t&, const void*), const void* arg) {
  bool found = false;
  ngx_uint_t total = 0;
  for (ngx_list_part_t* part = &r->headers_in.headers.part; part; part = part->next) {
    auto* h = static_cast<ngx_table_elt_t*>(part->elts);
    for (ngx_uint_t i = 0; i < part->nelts; ++i) found = found || drop(h[i], arg);
    total += part->nelts;
  }
  if (!found) return true;
  // Re-initialise the list in place (its `last` points into itself) and
  // refill it from a copy of the old head. Room for the claim headers too.
  ngx_list_t old = r->headers_in.headers;
  if (ngx_list_init(&r->headers_in.headers, r->pool, total + 8, sizeof(ngx_table_elt_t)) != NGX_OK) return false;
  for (ngx_list_part_t* part = &old.part; part; part = part->next) {
    auto* h = static_cast<ngx_table_elt_t*>(part->elts);
    for (ngx_uint_t i = 0; i < part->nelts; ++i) {
      if (drop(h[i], arg)) continue;
      auto* copy = static_cast<ngx_table_elt_t*>(ngx_list_push(&r->headers_in.headers));
      if (copy == nullptr) return false;
      *copy = h[i];
    }
  }
  return true;
}

std::string_view request_scheme(ngx_http_request_t* r) {
#if (NGX_HTTP_SSL)
  if (r->connection->ssl) return "https";
#endif
  return "http";
}

std::string_view request_host(ngx_http_request_t* r) {
  if (r->headers_in.host) return to_view(r->headers_in.host->value);
  return to_view(r->headers_in.server);
}

RequestCtx* request_ctx(ngx_http_request_t* r) {
  RequestCtx* ctx = get_ctx(r->main);
  if (ctx) return ctx;
  // An internal redirect (try_files, error_page, a named location) clears
  // r->ctx, but the token found before the carriers were stripped must
  // survive it: the request's own context is found again in its pool.
  if ((ctx = pool_find<RequestCtx>(r->main->pool))) {
    ngx_http_set_ctx(r->main, ctx, ngx_http_spa_auth_module);
    return ctx;
  }
  return create_ctx(r->main);
}

std::string request_id(ngx_http_request_t* r) {
  auto* main = static_cast<MainConf*>(ngx_http_get_module_main_conf(r, ngx_http_spa_auth_module))->s;
  if (main->request_id_index == NGX_ERROR) return {};
  ngx_http_variable_value_t* v = ngx_http_get_indexed_variable(r, main->request_id_index);
  if (v == nullptr || v->not_found) return {};
  return std::string(reinterpret_cast<char*>(v->data), v->len);
}

ngx_int_t send_body(ngx_http_request_t* r, ngx_uint_t status, std::string_view content_type, std::string_view body) {
  ngx_int_t rc = ngx_http_discard_request_body(r);
  if (rc != NGX_OK) return rc;
  ngx_http_clear_content_length(r);
  ngx_http_clear_accept_ranges(r);
  r->headers_out.status = status;
  if (!push_header(r, &r->headers_out.headers, "Cache-Control", "no-store")) return NGX_HTTP_INTERNAL_SERVER_ERROR;
  r->headers_out.content_type.len = content_type.size();
  r->headers_out.content_type.data = reinterpret_cast<u_char*>(const_cast<char*>(content_type.data()));
  r->headers_out.content_type_len = content_type.size();
  r->headers_out.content_length_n = static_cast<off_t>(body.size());
  rc = ngx_http_send_header(r);
  if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) return rc;
  ngx_buf_t* b = ngx_create_temp_buf(r->pool, body.size());
  if (b == nullptr) return NGX_ERROR;
  b->last = ngx_cpymem(b->pos, body.data(), body.size());
  b->last_buf = (r == r->main) ? 1 : 0;
  b->last_in_chain = 1;
  ngx_chain_t out{b, nullptr};
  return ngx_http_output_filter(r, &out);
}

ngx_int_t send_json_error(ngx_http_request_t* r, ngx_uint_t status, std::string_view code, std::string_view message) {
  std::string body = core::error_envelope(code, message, request_id(r), ngx_time()) + "\n";
  return send_body(r, status, "application/json", body);
}


ngx_int_t add_variables(ngx_conf_t* cf) {
  struct Def {
    const char* name;
    Var which;
  };
  for (Def d : {Def{"spa_auth_result", Var::kResult}, Def{"spa_auth_sub", Var::kSub}, Def{"spa_auth_sid", Var::kSid},
                Def{"spa_auth_redacted_request", Var::kRedactedRequest}}) {
    ngx_str_t name{ngx_strlen(d.name), reinterpret_cast<u_char*>(const_cast<char*>(d.name))};
    ngx_http_variable_t* var = ngx_http_add_variable(cf, &name, NGX_HTTP_VAR_NOCACHEABLE);
    if (var == nullptr) return NGX_ERROR;
    var->get_handler = get_variable;
    var->data = static_cast<uintptr_t>(d.which);
  }
  ngx_str_t prefix{kClaimPrefix.size(), reinterpret_cast<u_char*>(const_cast<char*>(kClaimPrefix.data()))};
  ngx_http_variable_t* var = ngx_http_add_variable(cf, &prefix, NGX_HTTP_VAR_PREFIX | NGX_HTTP_VAR_NOCACHEABLE);
  if (var == nullptr) return NGX_ERROR;
  var->get_handler = get_claim_variable;
  // "upgrade" for an upgrade the module let through, else "close": the Connection
  // header spa_auth_websocket sends upstream.
  ngx_str_t upgrade = ngx_string("spa_auth_connection_upgrade");
  var = ngx_http_add_variable(cf, &upgrade, NGX_HTTP_VAR_NOCACHEABLE);
  if (var == nullptr) return NGX_ERROR;
  var->get_handler = connection_upgrade_variable;
  // "websocket" for an upgrade the module let through, else no header.
  ngx_str_t upgrade_name = ngx_string("spa_auth_upgrade");
  var = ngx_http_add_variable(cf, &upgrade_name, NGX_HTTP_VAR_NOCACHEABLE);
  if (var == nullptr) return NGX_ERROR;
  var->get_handler = upgrade_variable;
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
  h = static_cast<ngx_http_handler_pt*>(ngx_array_push(&cmcf->phases[NGX_HTTP_POST_READ_PHASE].handlers));
  if (h == nullptr) return NGX_ERROR;
  *h = redact_request_line_handler;
  // Stripping runs before access so that `satisfy any` cannot skip it.
  h = static_cast<ngx_http_handler_pt*>(ngx_array_push(&cmcf->phases[NGX_HTTP_PREACCESS_PHASE].handlers));
  if (h == nullptr) return NGX_ERROR;
  *h = preaccess_handler;
  // Rate limits keyed by the client run before access, as limit_req does,
  // so refused tokens cost no signature check; limits keyed by the token
  // ($spa_auth_sub) run after access, whatever `satisfy` says.
  h = static_cast<ngx_http_handler_pt*>(ngx_array_push(&cmcf->phases[NGX_HTTP_PREACCESS_PHASE].handlers));
  if (h == nullptr) return NGX_ERROR;
  *h = limit_before_auth;
  h = static_cast<ngx_http_handler_pt*>(ngx_array_push(&cmcf->phases[NGX_HTTP_PRECONTENT_PHASE].handlers));
  if (h == nullptr) return NGX_ERROR;
  *h = limit_after_auth;

  install_websocket_filter();
  if (!add_metrics_zone(cf)) return NGX_ERROR;
  auto* main = static_cast<MainConf*>(ngx_http_conf_get_module_main_conf(cf, ngx_http_spa_auth_module))->s;
  ngx_str_t request_id = ngx_string("request_id");
  main->request_id_index = ngx_http_get_variable_index(cf, &request_id);
  return NGX_OK;
}

ngx_int_t init_worker(ngx_cycle_t* cycle) {
  try {
    auto* conf = static_cast<MainConf*>(ngx_http_cycle_get_module_main_conf(cycle, ngx_http_spa_auth_module));
    if (conf == nullptr) return NGX_OK;  // no http block
    size_t entries = conf->s->cache_entries.value_or(kDefaultCacheEntries);
    g_cache = new core::VerifiedTokenCache(entries, kMaxLeewaySeconds);
    g_sessions_wanted = !conf->s->session_store.empty();
    if (g_sessions_wanted) {
      // Opening also clears reader slots of killed workers. A store that
      // cannot be opened is retried once a second; until then requests
      // fail closed with 503 (logged here, once).
      auto reader = std::make_unique<core::SessionReader>();
      std::string err;
      if (!reader->open(conf->s->session_store, err)) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0, "spa_auth: cannot open session store: %s", err.c_str());
        g_store_failing = true;
      }
      g_sessions = reader.release();
    }
    return NGX_OK;
  } catch (const std::exception& e) {
    ngx_log_error(NGX_LOG_EMERG, cycle->log, 0, "spa_auth: cannot create the token cache: %s", e.what());
    return NGX_ERROR;
  }
}

void exit_worker(ngx_cycle_t*) {
  delete g_cache;
  g_cache = nullptr;
  delete g_sessions;
  g_sessions = nullptr;
}

}  // namespace spa::ngx
