// The request path. Preaccess: strip spoofable identity headers, find the
// token before its carriers go (tokens.cpp). Access: the WebSocket Origin,
// CSRF, then verify (once per token, then from the per-worker cache),
// apply the location's claim policy, look the session up (session.cpp),
// and answer 401/403/503 (responses.cpp) or pass the claims on.
#include "ngx_http_spa_auth_module/spa_auth.h"

#include <algorithm>

#include "core/http_fields.h"
#include "core/origin.h"

namespace spa::ngx {
namespace {

using core::Status;

// ---- CSRF ----------------------------------------------------------------

bool unsafe_method(ngx_http_request_t* r) {
  return !(r->method & (NGX_HTTP_GET | NGX_HTTP_HEAD | NGX_HTTP_OPTIONS | NGX_HTTP_TRACE));
}

// A cookie rides along on cross-site requests; an unsafe one must come
// from an allowed page: its Origin, or (no Origin sent) Sec-Fetch-Site.
bool csrf_origin_allowed(ngx_http_request_t* r, const LocSettings& s) {
  return core::csrf_origin_allowed(header_lines(r, "origin"), header_lines(r, "sec-fetch-site"), *s.csrf_origins,
                                   request_scheme(r), request_host(r));
}

// ---- claim headers -------------------------------------------------------

// Client headers that could pass for identity headers (fold_field_name).
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

// ---- verification --------------------------------------------------------

Status verify(ngx_http_request_t* r, const LocSettings& s, std::string_view token, core::VerifiedTokenPtr& out) {
  core::KeySource keys{s.jwks ? s.jwks->keys().get() : nullptr, s.hmac};
  core::VerifiedTokenCache* cache = worker().cache.get();
  if (cache) {
    core::VerifiedTokenPtr hit = cache->find(token, ngx_time());
    bool trusted = hit && core::still_trusted(*hit, keys, *s.algorithms);
    count_token_cache(trusted);
    if (trusted) {
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
  if (cache) cache->insert(token, out);
  return Status::kOk;
}

void refresh_keys(ngx_http_request_t* r, core::JwksFile* file) {
  if (file == nullptr) return;
  auto result = file->refresh(now_ms());
  switch (result.outcome) {
    case core::JwksFile::Outcome::kUnchanged:
      break;
    case core::JwksFile::Outcome::kReloaded:
      count_jwks_reload(true);
      ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0, "spa_auth: reloaded JWKS \"%s\" (%uz keys)",
                    file->path().c_str(), file->keys()->size());
      for (const auto& w : result.warnings)
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0, "spa_auth: JWKS \"%s\": %s", file->path().c_str(),
                      w.c_str());
      break;
    case core::JwksFile::Outcome::kFailed:
      count_jwks_reload(false);
      ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                    "spa_auth: JWKS \"%s\" not reloaded, keeping the previous keys: %s", file->path().c_str(),
                    result.error.c_str());
      break;
  }
}

// Signature, claim policy, session, then the claim headers: the first
// failure wins.
Status check_token(ngx_http_request_t* r, const LocSettings& s, std::string_view token, RequestCtx* ctx) {
  Status st = verify(r, s, token, ctx->token);
  if (st != Status::kOk) return st;
  std::string detail;
  st = core::check_claims(ctx->token->claims, s.policy, ngx_time(), detail);
  if (st != Status::kOk) {
    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0, "spa_auth: token refused: %s (%s)",
                  std::string(core::status_name(st)).c_str(), detail.c_str());
    return st;
  }
  st = check_session(r, ctx->token->claims.sid, ctx->token->claims.sub, ctx->token->claims.iat);
  if (st != Status::kOk) return st;
  return add_claim_headers(r, ctx->token->claims, *s.claim_headers);
}

RequestCtx* create_ctx(ngx_http_request_t* r) {
  RequestCtx* ctx = pool_new<RequestCtx>(r->pool);
  if (ctx) ngx_http_set_ctx(r, ctx, ngx_http_spa_auth_module);
  return ctx;
}

ngx_int_t access(ngx_http_request_t* r) {
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
    count_decision(ctx->status);
    core::StatusInfo info = core::status_info(ctx->status);
    ngx_http_finalize_request(r, send_json_error(r, static_cast<ngx_uint_t>(info.http), info.error_code,
                                                 "this page may not open this WebSocket"));
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
      count_decision(ctx->status);
      ctx->upgrade_ok = upgrade;
      return NGX_DECLINED;
    }
  } else if (*s.csrf && kind == TokenSource::Kind::kCookie && unsafe_method(r) && !csrf_origin_allowed(r, s)) {
    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "spa_auth: request refused: unsafe method with the token cookie from an Origin not allowed");
    ctx->status = Status::kOriginNotAllowed;
  } else {
    ctx->status = check_token(r, s, token, ctx);
  }
  count_decision(ctx->status);
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
    if (!set_challenge(r, ctx->status, s)) return NGX_HTTP_INTERNAL_SERVER_ERROR;
    return core::status_info(ctx->status).http;
  }
  ngx_http_finalize_request(r, send_refusal(r, ctx->status, s));
  return NGX_DONE;
}

// Tokens stop at the module, before any other phase handler (an
// auth_request subrequest, a `satisfy any` allow) can pass them on: where
// spa_auth is on or optional the token is read first; where it is off but
// the keys are known (a public service: the browser sends __Host-spa_at,
// Path=/, everywhere) they are just removed.
ngx_int_t preaccess(ngx_http_request_t* r) {
  LocSettings& s = loc_settings(r);
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
}

}  // namespace

ngx_int_t access_handler(ngx_http_request_t* r) { return guarded_handler<access>(r); }
ngx_int_t preaccess_handler(ngx_http_request_t* r) { return guarded_handler<preaccess>(r); }

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

}  // namespace spa::ngx
