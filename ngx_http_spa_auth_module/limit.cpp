// spa_auth_limit at request time: GCRA limits (core/gcra.h) whose state
// lives in nginx shared memory (core/limiter_table.h), one zone for every
// worker, and the RateLimit fields (core/rate_fields.h) on the answer.
#include "ngx_http_spa_auth_module/spa_auth.h"

#include "core/rate_fields.h"

namespace spa::ngx {
namespace {

// What the shared memory holds at shpool->data: the table's block.
struct ZoneMemory {
  void* table;
  size_t bytes;
};

int64_t monotonic_us() { return static_cast<int64_t>(ngx_current_msec) * 1000; }

// A response header whose name and value the caller keeps alive (static
// names, zone strings that live with the configuration): no copies.
bool push_static_header(ngx_http_request_t* r, ngx_str_t key, ngx_str_t lowcase, ngx_uint_t hash,
                        std::string_view value) {
  auto* h = static_cast<ngx_table_elt_t*>(ngx_list_push(&r->headers_out.headers));
  if (h == nullptr) return false;
  h->key = key;
  h->lowcase_key = lowcase.data;
  h->hash = hash;
  h->value.data = text_data(value);
  h->value.len = value.size();
  return true;
}

// RateLimit-Policy (made once per zone: LimitZone::policy) and RateLimit.
bool add_rate_headers(ngx_http_request_t* r, const LimitZone& z, const core::RateDecision& d) {
  static ngx_str_t policy_key = ngx_string("RateLimit-Policy"), policy_low = ngx_string("ratelimit-policy");
  static ngx_uint_t policy_hash = ngx_hash_key(policy_low.data, policy_low.len);
  return push_static_header(r, policy_key, policy_low, policy_hash, z.policy) &&
         push_header(r, &r->headers_out.headers, "RateLimit", core::rate_limit_state(z.name, d));
}

ngx_int_t refuse(ngx_http_request_t* r, const LimitZone& z, const core::RateDecision& d) {
  int64_t wait = core::retry_after_seconds(d);
  ngx_log_error(NGX_LOG_WARN, r->connection->log, 0, "spa_auth: rate limited by zone \"%s\", retry after %Ls",
                z.name.c_str(), wait);
  if (!push_header(r, &r->headers_out.headers, "Retry-After", std::to_string(wait)))
    return NGX_HTTP_INTERNAL_SERVER_ERROR;
  ngx_http_finalize_request(r, send_json_error(r, NGX_HTTP_TOO_MANY_REQUESTS, "rate_limited",
                                               core::rate_limited_message(wait)));
  return NGX_DONE;
}

// Checks the location's zones of one kind (before or after the token is
// known). The first zone over its limit refuses, unless it is dry_run;
// zones after it are not charged.
ngx_int_t check_limits(ngx_http_request_t* r, bool after_auth) {
  if (r != r->main) return NGX_DECLINED;
  LocSettings& s = loc_settings(r);
  if (s.limits->empty()) return NGX_DECLINED;
  for (const LimitUse& use : *s.limits) {
    LimitZone& z = *use.zone;
    if (z.after_auth != after_auth) continue;
    ngx_str_t key{0, nullptr};
    if (z.key_index != NGX_ERROR) {
      ngx_http_variable_value_t* v = ngx_http_get_indexed_variable(r, z.key_index);
      if (v != nullptr && !v->not_found) key = {v->len, v->data};
    } else if (ngx_http_complex_value(r, z.key, &key) != NGX_OK) {
      return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }
    if (key.len == 0) continue;  // nothing to count by (no token, say): as limit_req does
    core::RateDecision d;
    {
      ShmLock lock(z.shm);
      d = z.table->hit(to_view(key), z.rate, monotonic_us());
    }
    if (!d.allowed && use.dry_run) {
      ngx_log_error(NGX_LOG_WARN, r->connection->log, 0, "spa_auth: zone \"%s\" would refuse this request (dry_run)",
                    z.name.c_str());
      continue;
    }
    if (!use.dry_run && !add_rate_headers(r, z, d)) return NGX_HTTP_INTERNAL_SERVER_ERROR;
    if (!d.allowed) return refuse(r, z, d);
  }
  return NGX_DECLINED;
}

ngx_int_t check_before_auth(ngx_http_request_t* r) { return check_limits(r, false); }
ngx_int_t check_after_auth(ngx_http_request_t* r) { return check_limits(r, true); }

}  // namespace

ngx_int_t init_limit_zone(ngx_shm_zone_t* shm_zone, void* data) {
  auto* zone = static_cast<LimitZone*>(shm_zone->data);
  auto* old = static_cast<LimitZone*>(data);
  auto* shpool = reinterpret_cast<ngx_slab_pool_t*>(shm_zone->shm.addr);
  bool kept = false;
  if (old != nullptr && shpool->data != nullptr) {
    // A reload that kept this zone's memory (same name and size): the
    // counts stay when the key is the same expression.
    auto* mem = static_cast<ZoneMemory*>(shpool->data);
    zone->table = core::LimiterTable::attach(mem->table, mem->bytes, ngx_random(), old->key_text == zone->key_text, kept);
  } else {
    auto* mem = static_cast<ZoneMemory*>(ngx_slab_alloc(shpool, sizeof(ZoneMemory)));
    if (mem == nullptr) return NGX_ERROR;
    // Everything else the zone has, in one block of whole pages.
    mem->bytes = shpool->pfree * ngx_pagesize;
    mem->table = ngx_slab_alloc(shpool, mem->bytes);
    if (mem->table == nullptr) return NGX_ERROR;
    shpool->data = mem;
    uint64_t seed = (static_cast<uint64_t>(ngx_random()) << 32) ^ static_cast<uint64_t>(ngx_random()) ^
                    static_cast<uint64_t>(ngx_time());
    zone->table = core::LimiterTable::attach(mem->table, mem->bytes, seed, false, kept);
  }
  if (zone->table == nullptr) {
    ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0, "spa_auth_limit_zone \"%s\" is too small", zone->name.c_str());
    return NGX_ERROR;
  }
  ngx_log_error(NGX_LOG_NOTICE, shm_zone->shm.log, 0, "spa_auth_limit_zone \"%s\": %uz keys%s", zone->name.c_str(),
                zone->table->capacity(), kept ? ", state kept" : "");
  return NGX_OK;
}

ngx_int_t limit_before_auth(ngx_http_request_t* r) { return guarded_handler<check_before_auth>(r); }
ngx_int_t limit_after_auth(ngx_http_request_t* r) { return guarded_handler<check_after_auth>(r); }

}  // namespace spa::ngx
