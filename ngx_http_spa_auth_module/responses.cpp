// Answers the module writes itself: a body from memory, the project's JSON
// error envelope (core/envelope.h), and a refused token's answer, whose
// HTTP status, challenge and error code come from the one status table
// (core/status.h).
#include "ngx_http_spa_auth_module/spa_auth.h"

#include "core/envelope.h"

namespace spa::ngx {

std::string request_id(ngx_http_request_t* r) {
  const MainSettings& main = main_settings(r);
  if (main.request_id_index == NGX_ERROR) return {};
  ngx_http_variable_value_t* v = ngx_http_get_indexed_variable(r, main.request_id_index);
  if (v == nullptr || v->not_found) return {};
  return std::string(reinterpret_cast<char*>(v->data), v->len);
}

ngx_int_t send_body(ngx_http_request_t* r, ngx_uint_t status, std::string_view content_type, std::string_view body) {
  ngx_int_t rc = ngx_http_discard_request_body(r);
  if (rc != NGX_OK) return rc;
  ngx_http_clear_content_length(r);
  ngx_http_clear_accept_ranges(r);
  r->headers_out.status = status;
  if (!push_header(r, &r->headers_out.headers, "Cache-Control", "no-store")) return NGX_HTTP_INTERNAL_SERVER_ERROR;
  r->headers_out.content_type.len = content_type.size();
  r->headers_out.content_type.data = text_data(content_type);
  r->headers_out.content_type_len = content_type.size();
  r->headers_out.content_length_n = static_cast<off_t>(body.size());
  rc = ngx_http_send_header(r);
  if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) return rc;
  ngx_buf_t* b = ngx_create_temp_buf(r->pool, body.size());
  if (b == nullptr) return NGX_ERROR;
  b->last = ngx_cpymem(b->pos, body.data(), body.size());
  b->last_buf = (r == r->main) ? 1 : 0;
  b->last_in_chain = 1;
  ngx_chain_t out{b, nullptr};
  return ngx_http_output_filter(r, &out);
}

ngx_int_t send_json_error(ngx_http_request_t* r, ngx_uint_t status, std::string_view code, std::string_view message) {
  std::string body = core::error_envelope(code, message, request_id(r), ngx_time()) + "\n";
  return send_body(r, status, "application/json", body);
}

bool set_challenge(ngx_http_request_t* r, core::Status s, const LocSettings& loc) {
  ngx_table_elt_t* h;
  if (!push_header(r, &r->headers_out.headers, "WWW-Authenticate", core::www_authenticate(s, loc.policy.max_age), &h))
    return false;
  r->headers_out.www_authenticate = h;
  return true;
}

ngx_int_t send_refusal(ngx_http_request_t* r, core::Status s, const LocSettings& loc) {
  core::StatusInfo info = core::status_info(s);
  if (info.challenge != core::Challenge::kNone && !set_challenge(r, s, loc)) return NGX_HTTP_INTERNAL_SERVER_ERROR;
  return send_json_error(r, static_cast<ngx_uint_t>(info.http), info.error_code, info.description);
}

}  // namespace spa::ngx
