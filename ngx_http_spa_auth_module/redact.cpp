// Secrets out of what nginx logs: the request line (error log lines and
// $request) in the post-read phase, and the upstream URI and Referer in the
// error log's context. core/query.h decides what a secret parameter is.
#include "ngx_http_spa_auth_module/spa_auth.h"

#include "core/http_fields.h"
#include "core/query.h"

namespace spa::ngx {
namespace {

// nginx's own error-log context for a request (ngx_http_log_error_handler,
// not exported): the same for every request, kept from the first one.
ngx_http_log_handler_pt g_nginx_log_handler = nullptr;

// After nginx wrote its context (", client: …, request: …, upstream: …,
// referrer: …"), the query values of secret parameters in the upstream URI
// and the Referer become '*': the request line is redacted already, but
// proxy_pass sends the arguments on, and nginx logs that URI when the
// upstream fails. Masking is best effort: an exception leaves the line as
// nginx wrote it.
u_char* redacting_log_handler(ngx_http_request_t* r, ngx_http_request_t* sr, u_char* buf, size_t len) {
  u_char* end = g_nginx_log_handler(r, sr, buf, len);
  try {
    const MainSettings& main = main_settings(r);
    std::string_view text(reinterpret_cast<char*>(buf), static_cast<size_t>(end - buf));
    for (std::string_view marker : {std::string_view(", upstream: \""), std::string_view(", referrer: \"")}) {
      size_t at = text.find(marker);
      if (at == std::string_view::npos) continue;
      size_t from = at + marker.size(), to = text.find('"', from);
      if (to == std::string_view::npos) to = text.size();
      size_t q = text.find('?', from);
      if (q == std::string_view::npos || q >= to) continue;
      core::mask_query_secrets(reinterpret_cast<char*>(buf) + q + 1, to - q - 1, main.query_token_names);
    }
  } catch (...) {
  }
  return end;
}

// Post-read: nginx writes r->request_line into the error log lines of a
// request (and $request into access logs); secrets in its query are
// replaced before any phase handler can log them (what nginx logs while
// still reading the headers keeps the raw line: docs/module.md). Routing
// reads uri and args, not this line, so nothing else changes.
ngx_int_t redact_request_line(ngx_http_request_t* r) {
  if (r == r->main && r->log_handler != redacting_log_handler && r->log_handler != nullptr) {
    g_nginx_log_handler = r->log_handler;
    r->log_handler = redacting_log_handler;
  }
  std::string_view line = to_view(r->request_line);
  if (r != r->main || line.find('?') == std::string_view::npos) return NGX_DECLINED;
  const MainSettings& main = main_settings(r);
  if (!core::may_mention(line, core::secret_query_names()) && !core::may_mention(line, main.query_token_names))
    return NGX_DECLINED;  // most request lines: no copy
  std::string redacted = core::redact_request_line(line, main.query_token_names);
  if (redacted == line) return NGX_DECLINED;
  if (!set_str_copy(r, r->request_line, redacted)) return NGX_HTTP_INTERNAL_SERVER_ERROR;
  return NGX_DECLINED;
}

}  // namespace

ngx_int_t redact_request_line_handler(ngx_http_request_t* r) { return guarded_handler<redact_request_line>(r); }

}  // namespace spa::ngx
