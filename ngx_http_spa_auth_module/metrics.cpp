// Module-wide counters in a small shared-memory zone (spa_auth_metrics),
// so the counts cover every worker, and the spa_auth_status handler, which
// copies them and the limit zones' counters out (each zone under its lock)
// and has core/metrics_text.h write the Prometheus text.
#include "ngx_http_spa_auth_module/spa_auth.h"

#include "core/metrics_text.h"
#include "core/module_defaults.h"

namespace spa::ngx {
namespace {

// What the metrics zone holds.
struct Metrics {
  ngx_atomic_t ws_authorized;
  ngx_atomic_t ws_closed[core::kCloseReasons];  // indexed by core::CloseReason
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

std::string websocket_metrics() {
  if (g_metrics == nullptr) return {};
  core::WebSocketCounters c;
  c.authorized = static_cast<uint64_t>(g_metrics->ws_authorized);
  for (size_t i = 0; i < core::kCloseReasons; ++i) c.closed[i] = static_cast<uint64_t>(g_metrics->ws_closed[i]);
  return core::websocket_metrics_text(c);
}

ngx_int_t answer_status(ngx_http_request_t* r) {
  if (!(r->method & (NGX_HTTP_GET | NGX_HTTP_HEAD))) return NGX_HTTP_NOT_ALLOWED;
  std::string text = core::limit_metrics_text(zone_counters(main_settings(r))) + websocket_metrics();
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

void count_websocket_authorized() {
  if (g_metrics) ngx_atomic_fetch_add(&g_metrics->ws_authorized, 1);
}

void count_websocket_close(core::CloseReason reason) {
  if (g_metrics) ngx_atomic_fetch_add(&g_metrics->ws_closed[static_cast<size_t>(reason)], 1);
}

ngx_int_t status_handler(ngx_http_request_t* r) { return guarded_handler<answer_status>(r); }

}  // namespace spa::ngx
