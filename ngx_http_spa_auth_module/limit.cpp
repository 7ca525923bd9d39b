// spa_auth_limit_zone / spa_auth_limit: GCRA limits (core/gcra.h) whose
// state lives in nginx shared memory (core/limiter_table.h), one zone for
// every worker; and spa_auth_status, the metrics of those zones.
#include "ngx_http_spa_auth_module/spa_auth.h"

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
bool push_static_header(ngx_http_request_t* r, ngx_str_t key, ngx_str_t lowcase, ngx_uint_t hash, u_char* value,
                        size_t len) {
  auto* h = static_cast<ngx_table_elt_t*>(ngx_list_push(&r->headers_out.headers));
  if (h == nullptr) return false;
  h->key = key;
  h->lowcase_key = lowcase.data;
  h->hash = hash;
  h->value.data = value;
  h->value.len = len;
  return true;
}

// RateLimit-Policy and RateLimit (draft-ietf-httpapi-ratelimit-headers):
// Structured Field lists, one item per zone, named after the zone. The
// policy text is made once per zone (LimitZone::policy).
bool add_rate_headers(ngx_http_request_t* r, const LimitZone& z, const core::RateDecision& d) {
  static ngx_str_t policy_key = ngx_string("RateLimit-Policy"), policy_low = ngx_string("ratelimit-policy");
  static ngx_str_t state_key = ngx_string("RateLimit"), state_low = ngx_string("ratelimit");
  static ngx_uint_t policy_hash = ngx_hash_key(policy_low.data, policy_low.len);
  static ngx_uint_t state_hash = ngx_hash_key(state_low.data, state_low.len);
  // "NAME";r=N;t=N
  size_t max = z.name.size() + 2 + sizeof(";r=;t=") + 2 * NGX_INT64_LEN;
  auto* state = static_cast<u_char*>(ngx_pnalloc(r->pool, max));
  if (state == nullptr) return false;
  u_char* end = ngx_sprintf(state, "\"%*s\";r=%uD;t=%L", z.name.size(), z.name.data(), d.remaining,
                            core::ceil_seconds(d.allowed ? d.reset_us : d.retry_after_us));
  return push_static_header(r, policy_key, policy_low, policy_hash,
                            reinterpret_cast<u_char*>(const_cast<char*>(z.policy.data())), z.policy.size()) &&
         push_static_header(r, state_key, state_low, state_hash, state, static_cast<size_t>(end - state));
}

ngx_int_t refuse(ngx_http_request_t* r, const LimitZone& z, const core::RateDecision& d) {
  int64_t wait = std::max<int64_t>(1, core::ceil_seconds(d.retry_after_us));
  ngx_log_error(NGX_LOG_WARN, r->connection->log, 0, "spa_auth: rate limited by zone \"%s\", retry after %Ls",
                z.name.c_str(), wait);
  ngx_table_elt_t* h;
  if (!push_header(r, &r->headers_out.headers, "Retry-After", std::to_string(wait), &h))
    return NGX_HTTP_INTERNAL_SERVER_ERROR;
  ngx_http_finalize_request(r, send_json_error(r, 429, "rate_limited", "too many requests; retry after " +
                                                                          std::to_string(wait) + " seconds"));
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
    auto* shpool = reinterpret_cast<ngx_slab_pool_t*>(z.shm->shm.addr);
    ngx_shmtx_lock(&shpool->mutex);
    core::RateDecision d = z.table->hit(to_view(key), z.rate, monotonic_us());
    ngx_shmtx_unlock(&shpool->mutex);
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

template <bool kAfterAuth>
ngx_int_t guarded_check(ngx_http_request_t* r) {
  try {
    return check_limits(r, kAfterAuth);
  } catch (const std::exception& e) {
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0, "spa_auth: internal error: %s", e.what());
    return NGX_HTTP_INTERNAL_SERVER_ERROR;
  }
}

std::string metrics(const MainSettings& main) {
  std::string out =
      "# HELP spa_auth_limit_requests_total Requests counted by a rate-limit zone, by result "
      "(limited includes dry_run).\n"
      "# TYPE spa_auth_limit_requests_total counter\n";
  std::string evicted = "# HELP spa_auth_limit_evictions_total Keys dropped from a full zone, least recently used first.\n"
                        "# TYPE spa_auth_limit_evictions_total counter\n";
  std::string keys = "# HELP spa_auth_limit_keys Keys held by a zone.\n"
                     "# TYPE spa_auth_limit_keys gauge\n";
  std::string capacities = "# HELP spa_auth_limit_capacity Keys a zone can hold.\n"
                           "# TYPE spa_auth_limit_capacity gauge\n";
  for (const auto& z : main.limit_zones) {
    auto* shpool = reinterpret_cast<ngx_slab_pool_t*>(z->shm->shm.addr);
    ngx_shmtx_lock(&shpool->mutex);
    auto c = z->table->counters();
    size_t size = z->table->size(), capacity = z->table->capacity();
    ngx_shmtx_unlock(&shpool->mutex);
    std::string label = "zone=\"" + z->name + "\"";
    out += "spa_auth_limit_requests_total{" + label + ",result=\"allowed\"} " + std::to_string(c.allowed) + "\n";
    out += "spa_auth_limit_requests_total{" + label + ",result=\"limited\"} " + std::to_string(c.refused) + "\n";
    evicted += "spa_auth_limit_evictions_total{" + label + "} " + std::to_string(c.evicted) + "\n";
    keys += "spa_auth_limit_keys{" + label + "} " + std::to_string(size) + "\n";
    capacities += "spa_auth_limit_capacity{" + label + "} " + std::to_string(capacity) + "\n";
  }
  return out + evicted + keys + capacities;
}

// Module-wide counters, shared by the workers.
struct Metrics {
  ngx_atomic_t ws_authorized;
  ngx_atomic_t ws_closed_expired;
  ngx_atomic_t ws_closed_revoked;
  ngx_atomic_t ws_closed_no_boundary;
};
Metrics* g_metrics = nullptr;

ngx_int_t init_metrics_zone(ngx_shm_zone_t* shm_zone, void* data) {
  auto* shpool = reinterpret_cast<ngx_slab_pool_t*>(shm_zone->shm.addr);
  if (data == nullptr || shpool->data == nullptr) {
    shpool->data = ngx_slab_calloc(shpool, sizeof(Metrics));
    if (shpool->data == nullptr) return NGX_ERROR;
  }
  g_metrics = static_cast<Metrics*>(shpool->data);
  shm_zone->data = g_metrics;
  return NGX_OK;
}

std::string websocket_metrics() {
  if (g_metrics == nullptr) return {};
  auto line = [](const char* labels, ngx_atomic_t& v) {
    return std::string("spa_auth_websocket_closed_total{reason=\"") + labels + "\"} " +
           std::to_string(static_cast<uint64_t>(v)) + "\n";
  };
  return "# HELP spa_auth_websocket_authorized_total WebSocket upgrades authorized.\n"
         "# TYPE spa_auth_websocket_authorized_total counter\n"
         "spa_auth_websocket_authorized_total " + std::to_string(static_cast<uint64_t>(g_metrics->ws_authorized)) + "\n"
         "# HELP spa_auth_websocket_closed_total Authorized sockets the module closed, by reason.\n"
         "# TYPE spa_auth_websocket_closed_total counter\n" +
         line("token expired", g_metrics->ws_closed_expired) + line("session revoked", g_metrics->ws_closed_revoked) +
         line("no frame boundary", g_metrics->ws_closed_no_boundary);
}

}  // namespace

bool add_metrics_zone(ngx_conf_t* cf) {
  auto* main = static_cast<MainConf*>(ngx_http_conf_get_module_main_conf(cf, ngx_http_spa_auth_module))->s;
  ngx_str_t name = ngx_string("spa_auth_metrics");
  main->metrics = ngx_shared_memory_add(cf, &name, 8 * ngx_pagesize, &ngx_http_spa_auth_module);
  if (main->metrics == nullptr) return false;
  main->metrics->init = init_metrics_zone;
  return true;
}

void count_websocket_authorized() {
  if (g_metrics) ngx_atomic_fetch_add(&g_metrics->ws_authorized, 1);
}

void count_websocket_close(const char* reason) {
  if (g_metrics == nullptr) return;
  std::string_view why = reason;
  ngx_atomic_t* c = why == "token expired"     ? &g_metrics->ws_closed_expired
                    : why == "session revoked" ? &g_metrics->ws_closed_revoked
                                               : &g_metrics->ws_closed_no_boundary;
  ngx_atomic_fetch_add(c, 1);
}

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

ngx_int_t limit_before_auth(ngx_http_request_t* r) { return guarded_check<false>(r); }
ngx_int_t limit_after_auth(ngx_http_request_t* r) { return guarded_check<true>(r); }

ngx_int_t status_handler(ngx_http_request_t* r) {
  try {
    if (!(r->method & (NGX_HTTP_GET | NGX_HTTP_HEAD))) return NGX_HTTP_NOT_ALLOWED;
    auto* main = static_cast<MainConf*>(ngx_http_get_module_main_conf(r, ngx_http_spa_auth_module))->s;
    return send_body(r, NGX_HTTP_OK, "text/plain; version=0.0.4", metrics(*main) + websocket_metrics());
  } catch (const std::exception& e) {
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0, "spa_auth: internal error: %s", e.what());
    return NGX_HTTP_INTERNAL_SERVER_ERROR;
  }
}

}  // namespace spa::ngx
