// Request and response header lists as nginx keeps them (ngx_list_t of
// ngx_table_elt_t): read every line of a name, find one, add one, remove
// the lines a predicate picks. What a line means is decided in core/.
#include "ngx_http_spa_auth_module/spa_auth.h"

namespace spa::ngx {

bool header_named(const ngx_table_elt_t& h, std::string_view lowercase) {
  return h.key.len == lowercase.size() && ngx_strncasecmp(h.key.data, text_data(lowercase), lowercase.size()) == 0;
}

std::vector<std::string_view> header_lines(ngx_http_request_t* r, std::string_view lowercase) {
  std::vector<std::string_view> out;
  for (ngx_list_part_t* part = &r->headers_in.headers.part; part; part = part->next) {
    auto* h = static_cast<ngx_table_elt_t*>(part->elts);
    for (ngx_uint_t i = 0; i < part->nelts; ++i)
      if (header_named(h[i], lowercase)) out.push_back(to_view(h[i].value));
  }
  return out;
}

ngx_table_elt_t* find_header(ngx_list_t* list, std::string_view lowercase) {
  for (ngx_list_part_t* part = &list->part; part; part = part->next) {
    auto* h = static_cast<ngx_table_elt_t*>(part->elts);
    for (ngx_uint_t i = 0; i < part->nelts; ++i)
      if (h[i].hash != 0 && header_named(h[i], lowercase)) return &h[i];
  }
  return nullptr;
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
  // refill it from a copy of the old head, with room for the claim headers.
  constexpr ngx_uint_t kRoomForClaimHeaders = 8;
  ngx_list_t old = r->headers_in.headers;
  if (ngx_list_init(&r->headers_in.headers, r->pool, total + kRoomForClaimHeaders, sizeof(ngx_table_elt_t)) != NGX_OK)
    return false;
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

bool set_str_copy(ngx_http_request_t* r, ngx_str_t& out, std::string_view v) {
  auto* mem = static_cast<u_char*>(ngx_pnalloc(r->pool, v.size() ? v.size() : 1));
  if (mem == nullptr) return false;
  ngx_memcpy(mem, v.data(), v.size());
  out.data = mem;
  out.len = v.size();
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

}  // namespace spa::ngx
