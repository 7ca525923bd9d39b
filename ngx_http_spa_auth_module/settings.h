// The configuration as nginx stores it: one LocSettings per http, server
// and location block, one MainSettings per http block, and the limit zones.
// Filled by directives.cpp, merged by conf.cpp, read by the request path.
#pragma once

#include "ngx_http_spa_auth_module/ngx_includes.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/algorithm.h"
#include "core/claims.h"
#include "core/gcra.h"
#include "core/jwks_file.h"
#include "core/jwk.h"
#include "core/limiter_table.h"

namespace spa::ngx {

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

// What nginx keeps per level: a pointer to the pool-owned settings object.
struct LocConf {
  LocSettings* s;
};

struct MainConf {
  MainSettings* s;
};

}  // namespace spa::ngx
