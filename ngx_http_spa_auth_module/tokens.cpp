// Where the token comes from, and what must not go upstream: the
// configured sources read in order (core/token_carriers.h decides what a
// value holds), and every carrier of a token taken off the request before
// proxying, whichever source held it.
#include "ngx_http_spa_auth_module/spa_auth.h"

#include "core/cookies.h"
#include "core/http_fields.h"
#include "core/query.h"
#include "core/token_carriers.h"

namespace spa::ngx {
namespace {

using core::Status;

bool header_token(ngx_http_request_t* r, std::string_view& token) {
  if (r->headers_in.authorization == nullptr) return false;
  auto bearer = core::bearer_token(to_view(r->headers_in.authorization->value));
  if (!bearer) return false;
  token = *bearer;
  return true;
}

// Cookie names are case-sensitive (RFC 6265); nginx's own lookup is not,
// so the pairs are read by core/.
Status cookie_token(ngx_http_request_t* r, const std::string& name, std::string_view& token) {
  return core::cookie_token(header_lines(r, "cookie"), name, token);
}

bool query_token(ngx_http_request_t* r, const std::string& name, std::string_view& token) {
  ngx_str_t value;
  if (ngx_http_arg(r, text_data(name), name.size(), &value) != NGX_OK) return false;
  if (value.len == 0) return false;
  token = to_view(value);
  return true;
}

bool is_token_authorization(const ngx_table_elt_t& h, const void*) {
  return header_named(h, "authorization") && core::may_carry_token(to_view(h.value));
}

bool is_empty_cookie(const ngx_table_elt_t& h, const void*) { return h.value.len == 0 && header_named(h, "cookie"); }

}  // namespace

Status find_token(ngx_http_request_t* r, const std::vector<TokenSource>& sources, std::string_view& token,
                  TokenSource::Kind& kind) {
  for (const auto& src : sources) {
    kind = src.kind;
    switch (src.kind) {
      case TokenSource::Kind::kSubprotocol:
        if (subprotocol_token(r, token)) return Status::kOk;
        break;
      case TokenSource::Kind::kHeader:
        if (header_token(r, token)) return Status::kOk;
        break;
      case TokenSource::Kind::kCookie:
        if (Status st = cookie_token(r, src.name, token); st != Status::kMissing) return st;
        break;
      case TokenSource::Kind::kQuery:
        if (query_token(r, src.name, token)) return Status::kOk;
        break;
    }
  }
  return Status::kMissing;
}

// Nothing that can carry the token goes upstream: the Bearer
// Authorization header, the token cookies (other cookies stay), the
// query parameters, the subprotocol pair. Runs in every location that
// knows the keys (spa_auth_jwks_file or an HMAC secret at its level or
// above) unless spa_auth_pass_token is on, whichever source held the token.
bool strip_tokens(ngx_http_request_t* r, const LocSettings& s) {
  if (!remove_request_headers(r, is_token_authorization, nullptr)) return false;
  if (r->headers_in.authorization && is_token_authorization(*r->headers_in.authorization, nullptr))
    r->headers_in.authorization = nullptr;
  bool emptied = false;
  auto strip_cookie_line = [&](ngx_table_elt_t& h) {
    if (!core::may_mention(to_view(h.value), s.token_cookies)) return true;  // most requests: nothing to copy
    bool removed;
    std::string rest = core::remove_cookies(to_view(h.value), s.token_cookies, removed);
    if (!removed) return true;
    emptied = emptied || rest.empty();
    return set_str_copy(r, h.value, rest);
  };
  for (ngx_list_part_t* part = &r->headers_in.headers.part; part; part = part->next) {
    auto* h = static_cast<ngx_table_elt_t*>(part->elts);
    for (ngx_uint_t i = 0; i < part->nelts; ++i)
      if (header_named(h[i], "cookie") && !strip_cookie_line(h[i])) return false;
  }
  // $http_cookie and $cookie_NAME read nginx's own array, which may point
  // at elements of a list the preaccess phase replaced.
  auto** cookies = static_cast<ngx_table_elt_t**>(r->headers_in.cookies.elts);
  for (ngx_uint_t i = 0; i < r->headers_in.cookies.nelts; ++i)
    if (!strip_cookie_line(*cookies[i])) return false;
  if (emptied && !remove_request_headers(r, is_empty_cookie, nullptr)) return false;
  if (!s.token_query_names.empty() && r->args.len && core::may_mention(to_view(r->args), s.token_query_names)) {
    bool removed;
    std::string rest = core::remove_query_params(to_view(r->args), s.token_query_names, removed);
    if (removed) {
      if (!set_str_copy(r, r->args, rest)) return false;
      r->valid_unparsed_uri = 0;  // proxy_pass then builds the URI from uri and args
    }
  }
  return strip_subprotocol_token(r);
}

}  // namespace spa::ngx
