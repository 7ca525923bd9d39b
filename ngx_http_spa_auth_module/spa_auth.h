// The glue's shared declarations, and its index. Everything here is nginx
// glue; the decisions are made by core/.
//
//   module.cpp            the ngx_module_t, the one symbol the .so exports
//   lifecycle.cpp         variables and their getters (preconfiguration); postconfiguration
//                         (phase handlers, header filter, metrics zone); worker start and stop
//   directives.cpp        nginx's directive table (directive_list.h) and the handlers of
//                         every directive but the rate-limit ones
//   directives_limit.cpp  spa_auth_limit_zone, spa_auth_limit and spa_auth_status
//   conf.cpp              conf creation and merge: inheritance, defaults, what the request
//                         path reads
//   access.cpp            the request path: preaccess (identity headers, the token found
//                         before its carriers go) and access (Origin, CSRF, verify, claims,
//                         session, claim headers, the refusal)
//   tokens.cpp            token sources, and the carriers taken off the request before proxying
//   session.cpp           the session lookup in spa-authd's store, failing closed
//   redact.cpp            secrets out of the request line and the error log's context
//   headers.cpp           request and response header lists: read, find, add, remove
//   responses.cpp         answers from memory: the JSON envelope, a refusal with its challenge
//   limit.cpp             rate limits at request time, zone memory, RateLimit headers
//   metrics.cpp           shared counters and the spa_auth_status handler
//   websocket.cpp         WebSocket upgrades, and the socket's lifetime after the 101
//
//   spa_auth.h            this index; the per-request context, the worker's state, and what
//                         the files above call of each other
//   glue.h                C++ over nginx: pool objects, the shm lock guard, exception boundaries
//   settings.h            the configuration structs
//   directive_list.h      every directive: name, levels and arguments, handler
//   directives.h          what the two directive files share
//   ngx_includes.h        nginx's headers, as C
//
// The pure rules are in core/: status.h (status -> HTTP, error code,
// challenge), token_carriers.h, origin.h, names.h, metrics_text.h,
// rate_fields.h, and module_defaults.h (every default, named once).
#pragma once

#include "ngx_http_spa_auth_module/glue.h"
#include "ngx_http_spa_auth_module/settings.h"

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/metrics_text.h"
#include "core/session_reader.h"
#include "core/status.h"
#include "core/token_cache.h"
#include "core/verifier.h"
#include "core/ws_frames.h"

extern "C" {
extern ngx_module_t ngx_http_spa_auth_module;
extern ngx_module_t ngx_http_proxy_module;  // nginx's own; spa_auth_websocket sets proxy directives
}

namespace spa::ngx {

struct WsState;  // websocket.cpp

// Per-request outcome, kept for variables and logging.
struct RequestCtx {
  core::Status status = core::Status::kMissing;
  core::VerifiedTokenPtr token;  // set once the signature verified
  WsState* ws = nullptr;         // an authorized WebSocket upgrade (pool-owned)
  bool token_from_subprotocol = false;
  bool upgrade_ok = false;       // the access handler let this WebSocket upgrade through
  // Found in preaccess, before the carriers were taken off the request
  // (the views point into copies nginx keeps for the request's life).
  bool token_looked_up = false;
  core::Status token_lookup = core::Status::kMissing;  // kOk (found), kMissing or kDuplicateCookie
  std::string_view found_token;
  TokenSource::Kind found_kind = TokenSource::Kind::kHeader;
};

// What one worker process owns: made in init_worker, never in the master,
// and gone in exit_worker (lifecycle.cpp).
struct Worker {
  std::unique_ptr<core::VerifiedTokenCache> cache;
  std::unique_ptr<core::SessionReader> sessions;  // when spa_auth_session_store is set
  bool sessions_wanted = false;
  bool store_failing = false;  // said once in the log, until the store reads again
};
Worker& worker();

// directives.cpp (the table of directive_list.h), conf.cpp
namespace directives {
extern ngx_command_t commands[];
}
void* create_main_conf(ngx_conf_t* cf);
void* create_loc_conf(ngx_conf_t* cf);
char* merge_loc_conf(ngx_conf_t* cf, void* parent, void* child);

// lifecycle.cpp
ngx_int_t add_variables(ngx_conf_t* cf);
ngx_int_t postconfiguration(ngx_conf_t* cf);
ngx_int_t init_module(ngx_cycle_t* cycle);  // logs the module's version
ngx_int_t init_worker(ngx_cycle_t* cycle);
void exit_worker(ngx_cycle_t* cycle);

// access.cpp
ngx_int_t preaccess_handler(ngx_http_request_t* r);  // NGX_HTTP_PREACCESS_PHASE
ngx_int_t access_handler(ngx_http_request_t* r);     // NGX_HTTP_ACCESS_PHASE
RequestCtx* request_ctx(ngx_http_request_t* r);      // the main request's, made when missing

// tokens.cpp
// kOk with the token (`kind` says where it came from), kMissing, or
// kDuplicateCookie when the first source that answers is a cookie sent twice.
core::Status find_token(ngx_http_request_t* r, const std::vector<TokenSource>& sources, std::string_view& token,
                        TokenSource::Kind& kind);
// Takes every carrier of a token off the request; false when out of memory.
bool strip_tokens(ngx_http_request_t* r, const LocSettings& s);

// session.cpp
// The session `sid` in spa-authd's store, read-only: kOk, kRevoked (revoked,
// unknown, or refusing tokens issued at `iat`) or kStoreUnavailable
// (logged). kOk without a session store.
core::Status check_session(ngx_http_request_t* r, std::string_view sid, std::string_view sub,
                           std::optional<int64_t> iat);

// redact.cpp
ngx_int_t redact_request_line_handler(ngx_http_request_t* r);  // NGX_HTTP_POST_READ_PHASE

// headers.cpp
// Every line of a request header (lowercase name), in order.
std::vector<std::string_view> header_lines(ngx_http_request_t* r, std::string_view lowercase);
// The first live line (hash not 0) named `lowercase` in a header list.
ngx_table_elt_t* find_header(ngx_list_t* list, std::string_view lowercase);
// The line's name is `lowercase`, compared without case.
bool header_named(const ngx_table_elt_t& h, std::string_view lowercase);
// Removes every request header line for which drop(h) is true; the list is
// rebuilt only when one matches. Returns false when out of memory.
bool remove_request_headers(ngx_http_request_t* r, bool (*drop)(const ngx_table_elt_t&, const void*), const void* arg);
// Adds a line to `list`, name and value copied into the request's pool.
bool push_header(ngx_http_request_t* r, ngx_list_t* list, std::string_view key, std::string_view value,
                 ngx_table_elt_t** out = nullptr);
// `out` becomes a pool copy of `v`.
bool set_str_copy(ngx_http_request_t* r, ngx_str_t& out, std::string_view v);
// This request's scheme, "https" or "http", and its Host.
std::string_view request_scheme(ngx_http_request_t* r);
std::string_view request_host(ngx_http_request_t* r);

// responses.cpp
std::string request_id(ngx_http_request_t* r);
// A whole answer from memory: status, type, body (with Cache-Control: no-store).
ngx_int_t send_body(ngx_http_request_t* r, ngx_uint_t status, std::string_view content_type, std::string_view body);
// A JSON error envelope as the whole answer.
ngx_int_t send_json_error(ngx_http_request_t* r, ngx_uint_t status, std::string_view code, std::string_view message);
// WWW-Authenticate for a refusal with `s`, as r->headers_out.www_authenticate
// (so nginx drops it when `satisfy any` lets another module allow).
bool set_challenge(ngx_http_request_t* r, core::Status s, const LocSettings& loc);
// The module's own answer to a refused token: the status table's HTTP
// status, challenge and envelope (core/status.h).
ngx_int_t send_refusal(ngx_http_request_t* r, core::Status s, const LocSettings& loc);

// limit.cpp
ngx_int_t init_limit_zone(ngx_shm_zone_t* shm_zone, void* data);
ngx_int_t limit_before_auth(ngx_http_request_t* r);  // NGX_HTTP_PREACCESS_PHASE
ngx_int_t limit_after_auth(ngx_http_request_t* r);   // NGX_HTTP_PRECONTENT_PHASE

// metrics.cpp
// Module-wide counters in their own shared memory, for spa_auth_status.
bool add_metrics_zone(ngx_conf_t* cf);
void count_decision(core::Status result);  // once per request the access phase decided
void count_token_cache(bool hit);
void count_jwks_reload(bool ok);
void count_store_lookup(core::StoreLookup result);
void count_websocket_authorized();
void count_websocket_close(core::CloseReason reason);
ngx_int_t status_handler(ngx_http_request_t* r);  // spa_auth_status

// websocket.cpp
bool is_upgrade(ngx_http_request_t* r);
bool websocket_origin_allowed(ngx_http_request_t* r, const LocSettings& s);
bool subprotocol_token(ngx_http_request_t* r, std::string_view& token);
// Sec-WebSocket-Protocol `bearer, <jwt>` is rewritten to offer the upstream
// `bearer` without the token.
bool strip_subprotocol_token(ngx_http_request_t* r);
ngx_int_t websocket_authorized(ngx_http_request_t* r, RequestCtx* ctx, const LocSettings& s, bool from_subprotocol);
void install_websocket_filter();

inline LocSettings& loc_settings(ngx_http_request_t* r) {
  return *static_cast<LocConf*>(ngx_http_get_module_loc_conf(r, ngx_http_spa_auth_module))->s;
}

inline MainSettings& main_settings(ngx_conf_t* cf) {
  return *static_cast<MainConf*>(ngx_http_conf_get_module_main_conf(cf, ngx_http_spa_auth_module))->s;
}

inline MainSettings& main_settings(ngx_http_request_t* r) {
  return *static_cast<MainConf*>(ngx_http_get_module_main_conf(r, ngx_http_spa_auth_module))->s;
}

inline RequestCtx* get_ctx(ngx_http_request_t* r) {
  return static_cast<RequestCtx*>(ngx_http_get_module_ctx(r, ngx_http_spa_auth_module));
}

}  // namespace spa::ngx
