// Module-wide counters in a small shared-memory zone (spa_auth_metrics),
// so the counts cover every worker, and the spa_auth_status handler, which
// copies them and the limit zones' counters out (each zone under its lock)
// and has core/metrics_text.h write the Prometheus text.
#include "ngx_http_spa_auth_module/spa_auth.h"

#include "core/metrics_text.h"
#include "core/module_defaults.h"

namespace spa::ngx {
namespace {

// What the metrics zone holds: plain counters, added to with atomics by
// every worker (no lock), read without one by spa_auth_status.
struct Metrics {
  uint64_t layout;  // kLayout: a reload that brings a module with other counters starts them anew
  ngx_atomic_t decisions[core::kStatusCount];  // indexed by core::Status
  ngx_atomic_t cache_hits;
  ngx_atomic_t cache_misses;
  ngx_atomic_t jwks_reloads;
  ngx_atomic_t jwks_failures;
  ngx_atomic_t store_lookups[core::kStoreLookups];  // indexed by core::StoreLookup
  ngx_atomic_t ws_authorized;
  ngx_atomic_t ws_closed[core::kCloseReasons];  // indexed by core::CloseReason
};
// A mark that no counter of an earlier layout reaches (its size in the low bits).
constexpr uint64_t kLayout = 0x5350'415f'4d45'0000ULL | sizeof(Metrics);
Metrics* g_metrics = nullptr;

ngx_int_t init_metrics_zone(ngx_shm_zone_t* shm_zone, void* data) {
  auto* shpool = reinterpret_cast<ngx_slab_pool_t*>(shm_zone->shm.addr);
  if (data == nullptr || shpool->data == nullptr || static_cast<Metrics*>(shpool->data)->layout != kLayout) {
    shpool->data = ngx_slab_calloc(shpool, sizeof(Metrics));
    if (shpool->data == nullptr) return NGX_ERROR;
    static_cast<Metrics*>(shpool->data)->layout = kLayout;
  }
  g_metrics = static_cast<Metrics*>(shpool->data);
  shm_zone->data = g_metrics;
  return NGX_OK;
}

std::vector<core::ZoneCounters> zone_counters(const MainSettings& main) {
  std::vector<core::ZoneCounters> out;
  for (const auto& z : main.limit_zones) {
    core::ZoneCounters c;
    {
      ShmLock lock(z->shm);
      core::LimiterTable::Counters counters = z->table->counters();
      c.allowed = counters.allowed;
      c.limited = counters.refused;
      c.evicted = counters.evicted;
      c.keys = z->table->size();
      c.capacity = z->table->capacity();
    }
    c.name = z->name;
    out.push_back(c);
  }
  return out;
}

uint64_t read(const ngx_atomic_t& a) { return static_cast<uint64_t>(a); }

std::string module_metrics() {
  if (g_metrics == nullptr) return {};
  core::ModuleCounters c;
  for (size_t i = 0; i < core::kStatusCount; ++i) c.decisions[i] = read(g_metrics->decisions[i]);
  c.cache_hits = read(g_metrics->cache_hits);
  c.cache_misses = read(g_metrics->cache_misses);
  c.jwks_reloads = read(g_metrics->jwks_reloads);
  c.jwks_failures = read(g_metrics->jwks_failures);
  for (size_t i = 0; i < core::kStoreLookups; ++i) c.store_lookups[i] = read(g_metrics->store_lookups[i]);
  return core::module_metrics_text(c);
}

void add(ngx_atomic_t& a) { ngx_atomic_fetch_add(&a, 1); }

std::string websocket_metrics() {
  if (g_metrics == nullptr) return {};
  core::WebSocketCounters c;
  c.authorized = read(g_metrics->ws_authorized);
  for (size_t i = 0; i < core::kCloseReasons; ++i) c.closed[i] = read(g_metrics->ws_closed[i]);
  return core::websocket_metrics_text(c);
}

ngx_int_t answer_status(ngx_http_request_t* r) {
  if (!(r->method & (NGX_HTTP_GET | NGX_HTTP_HEAD))) return NGX_HTTP_NOT_ALLOWED;
  std::string text =
      module_metrics() + core::limit_metrics_text(zone_counters(main_settings(r))) + websocket_metrics();
  return send_body(r, NGX_HTTP_OK, "text/plain; version=0.0.4", text);
}

}  // namespace

bool add_metrics_zone(ngx_conf_t* cf) {
  ngx_str_t name = ngx_string("spa_auth_metrics");
  MainSettings& main = main_settings(cf);
  main.metrics = ngx_shared_memory_add(cf, &name, core::module_defaults::kMetricsZonePages * ngx_pagesize,
                                       &ngx_http_spa_auth_module);
  if (main.metrics == nullptr) return false;
  main.metrics->init = init_metrics_zone;
  return true;
}

void count_decision(core::Status result) {
  if (g_metrics) add(g_metrics->decisions[static_cast<size_t>(result)]);
}

void count_token_cache(bool hit) {
  if (g_metrics) add(hit ? g_metrics->cache_hits : g_metrics->cache_misses);
}

void count_jwks_reload(bool ok) {
  if (g_metrics) add(ok ? g_metrics->jwks_reloads : g_metrics->jwks_failures);
}

void count_store_lookup(core::StoreLookup result) {
  if (g_metrics) add(g_metrics->store_lookups[static_cast<size_t>(result)]);
}

void count_websocket_authorized() {
  if (g_metrics) add(g_metrics->ws_authorized);
}

void count_websocket_close(core::CloseReason reason) {
  if (g_metrics) add(g_metrics->ws_closed[static_cast<size_t>(reason)]);
}

ngx_int_t status_handler(ngx_http_request_t* r) { return guarded_handler<answer_status>(r); }

}  // namespace spa::ngx
