// Shared between the glue's translation units: configuration as nginx
// stores it, and the per-request context. Everything here is nginx glue;
// the decisions are made by core/.
#pragma once

#include "ngx_http_spa_auth_module/ngx_includes.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/algorithm.h"
#include "core/claims.h"
#include "core/gcra.h"
#include "core/limiter_table.h"
#include "core/jwks_file.h"
#include "core/verifier.h"

extern "C" {
extern ngx_module_t ngx_http_spa_auth_module;
extern ngx_module_t ngx_http_proxy_module;  // nginx's own; spa_auth_websocket sets proxy directives
}

namespace spa::ngx {

// The largest spa_auth_leeway; the token cache keeps entries this long
// past exp so that no location's leeway outlives its cache entry.
inline constexpr int64_t kMaxLeewaySeconds = 600;

// Verified tokens kept per worker unless spa_auth_cache_size says otherwise;
// about 2.7 KiB each for a typical access token.
inline constexpr size_t kDefaultCacheEntries = 4096;

enum class Mode { kOff, kOn, kOptional };

struct TokenSource {
  enum class Kind { kHeader, kCookie, kQuery, kSubprotocol } kind = Kind::kHeader;
  std::string name;  // cookie or query parameter name
};

struct ClaimHeader {
  std::string header;     // as configured, sent upstream
  std::string lowercase;  // for matching client-sent headers
  ngx_uint_t hash = 0;    // ngx_hash_key of lowercase
  std::string claim;
};

// spa_auth_limit_zone: a GCRA limiter in nginx shared memory (limit.cpp).
struct LimitZone {
  std::string name;
  std::string key_text;                   // as written: a reload keeps the state only for the same key
  ngx_http_complex_value_t* key = nullptr;
  ngx_int_t key_index = NGX_ERROR;        // the key is one variable: read it directly
  core::RateLimit rate;
  std::string policy;                     // the RateLimit-Policy item: "NAME";q=N;w=SECONDS
  bool after_auth = false;                // the key uses $spa_auth_*: checked once the token is verified
  ngx_shm_zone_t* shm = nullptr;
  core::LimiterTable* table = nullptr;    // in the shared memory, once it is set up
};

// spa_auth_limit: a zone applied to a location.
struct LimitUse {
  std::string zone_name;
  LimitZone* zone = nullptr;  // resolved in merge, when every zone is known
  bool dry_run = false;
  std::string where;          // "file:line" of the directive, for errors found in merge
};

// One per http/server/location block. Unset optionals inherit in merge;
// repeatable directives inherit as a whole list when a level has none of
// its own, as nginx's own array directives do.
struct LocSettings {
  std::optional<Mode> mode;
  core::JwksFile* jwks = nullptr;  // owned by MainSettings
  bool jwks_set = false;
  core::JwkPtr hmac;
  bool hmac_set = false;
  std::optional<core::AlgSet> algorithms;
  std::optional<std::string> issuer;
  std::optional<std::vector<std::string>> audiences;
  std::optional<int64_t> leeway;
  std::optional<std::vector<TokenSource>> sources;
  bool sources_set = false;  // spa_auth_token at this level or above (else the default, per location)
  std::optional<std::vector<core::ClaimRequirement>> requirements;
  std::optional<bool> require_mfa;
  std::optional<std::vector<ClaimHeader>> claim_headers;
  std::optional<std::vector<LimitUse>> limits;
  bool status_handler = false;  // spa_auth_status: this location answers with the metrics
  std::optional<bool> websocket;                        // spa_auth_websocket
  std::optional<std::vector<std::string>> ws_origins;   // spa_auth_websocket_origin; empty: same origin only
  std::optional<int64_t> ws_recheck_ms;                 // spa_auth_websocket_recheck
  std::optional<int64_t> max_age;                       // spa_auth_max_age, seconds; 0 = off
  std::optional<std::string> identity_prefix;           // spa_auth_identity_prefix as written; "" = off
  std::optional<std::vector<std::string>> csrf_origins; // spa_auth_csrf_origin; empty: same origin
  std::optional<bool> csrf;                             // spa_auth_csrf_origin on/list (true) or off
  std::optional<bool> pass_token;                       // spa_auth_pass_token

  // Filled by merge for the request path.
  core::ClaimPolicy policy;
  // Client headers removed before anything else (preaccess): the claim
  // header names of this level and every level above, lowercased with '_'
  // as '-', and the identity prefix in the same form ("" = none).
  std::vector<std::string> strip_names;
  std::string strip_prefix;
  // Cookie and query names that carry tokens here, removed before proxying.
  std::vector<std::string> token_cookies;
  std::vector<std::string> token_query_names;
};

struct MainSettings {
  std::vector<std::unique_ptr<core::JwksFile>> jwks_files;  // one per distinct path
  std::optional<size_t> cache_entries;                       // spa_auth_cache_size
  std::string session_store;                                 // spa_auth_session_store, empty if unset
  ngx_int_t request_id_index = NGX_ERROR;
  std::vector<std::unique_ptr<LimitZone>> limit_zones;
  ngx_shm_zone_t* metrics = nullptr;
  std::vector<std::string> query_token_names;  // every spa_auth_token query=NAME, for the redacted request
};

struct LocConf {
  LocSettings* s;
};

struct MainConf {
  MainSettings* s;
};

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

// Builds a C++ object in pool memory; its destructor runs with the pool.
template <typename T>
void pool_destroy(void* data) {
  static_cast<T*>(data)->~T();
}

template <typename T>
T* pool_new(ngx_pool_t* pool) {
  ngx_pool_cleanup_t* cln = ngx_pool_cleanup_add(pool, sizeof(T));
  if (cln == nullptr) return nullptr;
  T* obj = new (cln->data) T();
  cln->handler = pool_destroy<T>;
  return obj;
}

// The object pool_new<T> made in this pool, if any (as realip finds its
// context again after an internal redirect has cleared r->ctx).
template <typename T>
T* pool_find(ngx_pool_t* pool) {
  for (ngx_pool_cleanup_t* cln = pool->cleanup; cln; cln = cln->next)
    if (cln->handler == pool_destroy<T>) return static_cast<T*>(cln->data);
  return nullptr;
}

// directives.cpp
extern ngx_command_t commands[];
void* create_main_conf(ngx_conf_t* cf);
void* create_loc_conf(ngx_conf_t* cf);
char* merge_loc_conf(ngx_conf_t* cf, void* parent, void* child);

// access.cpp
ngx_int_t add_variables(ngx_conf_t* cf);
bool push_header(ngx_http_request_t* r, ngx_list_t* list, std::string_view key, std::string_view value,
                 ngx_table_elt_t** out = nullptr);
std::string request_id(ngx_http_request_t* r);
// A whole answer from memory: status, type, body (with Cache-Control: no-store).
ngx_int_t send_body(ngx_http_request_t* r, ngx_uint_t status, std::string_view content_type, std::string_view body);
// A JSON error envelope as the whole answer.
ngx_int_t send_json_error(ngx_http_request_t* r, ngx_uint_t status, std::string_view code, std::string_view message);
RequestCtx* request_ctx(ngx_http_request_t* r);  // the main request's, made when missing

// The session `sid` in spa-authd's store, read-only: kOk, kRevoked (revoked,
// unknown, or refusing tokens issued at `iat`) or kStoreUnavailable
// (logged). kOk without a session store.
core::Status check_session(ngx_http_request_t* r, std::string_view sid, std::optional<int64_t> iat);

// Every line of a request header (lowercase name), in order.
std::vector<std::string_view> header_lines(ngx_http_request_t* r, std::string_view lowercase);
// Removes every request header line for which drop(h) is true; the list is
// rebuilt only when one matches. Returns false when out of memory.
bool remove_request_headers(ngx_http_request_t* r, bool (*drop)(const ngx_table_elt_t&, const void*), const void* arg);
// This request's scheme, "https" or "http".
std::string_view request_scheme(ngx_http_request_t* r);
std::string_view request_host(ngx_http_request_t* r);

// websocket.cpp
bool is_upgrade(ngx_http_request_t* r);
// Sec-WebSocket-Protocol `bearer, <jwt>` is rewritten to offer the upstream
// `bearer` without the token.
bool strip_subprotocol_token(ngx_http_request_t* r);
ngx_int_t upgrade_variable(ngx_http_request_t* r, ngx_http_variable_value_t* v, uintptr_t data);
bool websocket_origin_allowed(ngx_http_request_t* r, const LocSettings& s);
bool subprotocol_token(ngx_http_request_t* r, std::string_view& token);
ngx_int_t websocket_authorized(ngx_http_request_t* r, RequestCtx* ctx, const LocSettings& s, bool from_subprotocol);
ngx_int_t connection_upgrade_variable(ngx_http_request_t* r, ngx_http_variable_value_t* v, uintptr_t data);
void install_websocket_filter();

// limit.cpp
ngx_int_t init_limit_zone(ngx_shm_zone_t* shm_zone, void* data);
// Module-wide counters in their own shared memory, for spa_auth_status.
bool add_metrics_zone(ngx_conf_t* cf);
void count_websocket_authorized();
void count_websocket_close(const char* reason);
ngx_int_t limit_before_auth(ngx_http_request_t* r);  // NGX_HTTP_PREACCESS_PHASE
ngx_int_t limit_after_auth(ngx_http_request_t* r);   // NGX_HTTP_PRECONTENT_PHASE
ngx_int_t status_handler(ngx_http_request_t* r);     // spa_auth_status
ngx_int_t postconfiguration(ngx_conf_t* cf);
ngx_int_t init_worker(ngx_cycle_t* cycle);
void exit_worker(ngx_cycle_t* cycle);

inline std::string_view to_view(const ngx_str_t& s) {
  return {reinterpret_cast<const char*>(s.data), s.len};
}

inline LocSettings& loc_settings(ngx_http_request_t* r) {
  return *static_cast<LocConf*>(ngx_http_get_module_loc_conf(r, ngx_http_spa_auth_module))->s;
}

inline RequestCtx* get_ctx(ngx_http_request_t* r) {
  return static_cast<RequestCtx*>(ngx_http_get_module_ctx(r, ngx_http_spa_auth_module));
}

// Wall-clock milliseconds, as nginx last read them (token exp is wall time).
inline int64_t now_ms() {
  ngx_time_t* tp = ngx_timeofday();
  return static_cast<int64_t>(tp->sec) * 1000 + static_cast<int64_t>(tp->msec);
}

}  // namespace spa::ngx
