// C++ over nginx, for every file of the glue: views of ngx_str_t, objects
// owned by an nginx pool, the shared-memory mutex as a scope guard, and the
// exception boundary every nginx callback runs behind (no C++ exception
// may cross into nginx's C).
#pragma once

#include "ngx_http_spa_auth_module/ngx_includes.h"

#include <cstdint>
#include <exception>
#include <new>
#include <string_view>

namespace spa::ngx {

inline std::string_view to_view(const ngx_str_t& s) {
  return {reinterpret_cast<const char*>(s.data), s.len};
}

// nginx takes `u_char*` where it only reads: our constant text, passed on.
inline u_char* text_data(std::string_view s) {
  return reinterpret_cast<u_char*>(const_cast<char*>(s.data()));
}

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

// A shared-memory zone's mutex, held for the guard's scope: released on
// every path out, an exception's included.
class ShmLock {
 public:
  explicit ShmLock(ngx_shm_zone_t* zone) : mutex_(&reinterpret_cast<ngx_slab_pool_t*>(zone->shm.addr)->mutex) {
    ngx_shmtx_lock(mutex_);
  }
  ~ShmLock() { ngx_shmtx_unlock(mutex_); }
  ShmLock(const ShmLock&) = delete;
  ShmLock& operator=(const ShmLock&) = delete;

 private:
  ngx_shmtx_t* mutex_;
};

// Wall-clock milliseconds, as nginx last read them (token exp is wall time).
inline int64_t now_ms() {
  ngx_time_t* tp = ngx_timeofday();
  return static_cast<int64_t>(tp->sec) * 1000 + static_cast<int64_t>(tp->msec);
}

// Runs `body` so that no exception reaches nginx: one is logged at `error`
// and the callback answers `failed` instead.
template <typename R, typename Body>
R at_boundary(ngx_log_t* log, R failed, Body&& body) noexcept {
  try {
    return body();
  } catch (const std::exception& e) {
    ngx_log_error(NGX_LOG_ERR, log, 0, "spa_auth: internal error: %s", e.what());
  } catch (...) {
    ngx_log_error(NGX_LOG_ERR, log, 0, "spa_auth: internal error");
  }
  return failed;
}

// A phase or content handler behind the boundary: an exception is a 500.
template <ngx_int_t (*F)(ngx_http_request_t*)>
ngx_int_t guarded_handler(ngx_http_request_t* r) noexcept {
  return at_boundary(r->connection->log, ngx_int_t{NGX_HTTP_INTERNAL_SERVER_ERROR}, [r] { return F(r); });
}

}  // namespace spa::ngx
