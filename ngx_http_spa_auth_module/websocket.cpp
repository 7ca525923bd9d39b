// spa_auth_websocket: the upgrade is authorized like any request (plus an
// Origin check and the `bearer, <jwt>` subprotocol pair), and after the 101
// the socket lives only as long as its token and its session. One timer
// per socket: at the token's exp, or at the next session recheck. When it
// is time, the client gets a close frame (4401) between two upstream
// frames, never inside one, and both sides are closed.
//
// How: nginx copies an upgraded connection's bytes itself
// (ngx_http_upstream_process_upgraded) with the client connection's send();
// after the 101 the module puts its own send() in front, which follows the
// frames it passes (core/ws_frames.h) and, once a close is due, lets bytes
// through only up to the end of the frame under way.
#include "ngx_http_spa_auth_module/spa_auth.h"

#include "core/http_fields.h"
#include "core/module_defaults.h"
#include "core/origin.h"

namespace spa::ngx {

namespace defaults = core::module_defaults;

// One authorized socket. Lives in the request's pool (pool_new), so it goes
// with the connection; its destructor takes its events off nginx's lists.
struct WsState {
  ngx_http_request_t* r = nullptr;
  ngx_send_pt client_send = nullptr;  // the connection's own send()
  core::FrameTracker to_client;
  int64_t exp_ms = 0;
  int64_t recheck_ms = defaults::kWebSocketRecheckMs;
  std::string sid;
  std::string sub;             // the token's subject: the session must be its user's
  std::optional<int64_t> iat;  // the token's: a role change refuses older tokens
  std::optional<core::CloseReason> reason;  // set once a close is due
  bool close_pending = false;               // waiting for the frame under way to end
  bool close_sent = false;
  ngx_event_t timer{};
  ngx_event_t finish{};

  ~WsState() {
    // Braces: nginx's ngx_delete_posted_event is several statements.
    for (ngx_event_t* ev : {&timer, &finish}) {
      if (ev->timer_set) {
        ngx_del_timer(ev);
      }
      if (ev->posted) {
        ngx_delete_posted_event(ev);
      }
    }
  }
};

namespace {

ngx_http_output_header_filter_pt next_header_filter;

std::string reason_text(const WsState* ws) { return std::string(core::close_reason_text(*ws->reason)); }

// Ends the proxied connection: unsent upstream bytes (whole frames: the
// tracker is at a boundary) are dropped, the upstream side is marked
// finished, and nginx's own upgraded-connection handler closes both
// sides. The request, and this state with it, is gone afterwards.
void finish(WsState* ws) {
  ngx_http_request_t* r = ws->r;
  ngx_http_upstream_t* u = r->upstream;
  if (u == nullptr || u->peer.connection == nullptr) {
    ngx_http_finalize_request(r, NGX_ERROR);
    return;
  }
  u->buffer.pos = u->buffer.last;
  u->peer.connection->read->eof = 1;
  u->peer.connection->read->ready = 0;
  u->read_event_handler(r, u);
}

void send_close(WsState* ws) {
  std::string reason = reason_text(ws);
  std::string frame = core::close_frame(defaults::kCloseCode, reason);
  ngx_connection_t* c = ws->r->connection;
  ssize_t n = c->write->ready ? ws->client_send(c, reinterpret_cast<u_char*>(frame.data()), frame.size()) : 0;
  ws->close_sent = true;
  ngx_log_error(NGX_LOG_INFO, c->log, 0, "spa_auth: websocket closed: %s%s", reason.c_str(),
                n == static_cast<ssize_t>(frame.size()) ? "" : " (the client was not reading; no close frame)");
  count_websocket_close(*ws->reason);
}

void begin_close(WsState* ws, core::CloseReason reason) {
  ws->reason = reason;
  if (ws->to_client.at_boundary()) {
    send_close(ws);
    finish(ws);
    return;
  }
  ws->close_pending = true;
  ngx_log_error(NGX_LOG_INFO, ws->r->connection->log, 0,
                "spa_auth: websocket close due (%s), waiting for the frame under way to end", reason_text(ws).c_str());
  ngx_add_timer(&ws->timer, static_cast<ngx_msec_t>(defaults::kCloseBoundaryWaitMs));
}

// The timer: the token's exp, the next session recheck, or the end of the
// wait for a frame boundary.
bool on_timer_event(WsState* ws) {
  if (ws->close_pending) {
    ngx_log_error(NGX_LOG_INFO, ws->r->connection->log, 0,
                  "spa_auth: websocket closed: %s (no frame boundary within %Mms, no close frame)",
                  reason_text(ws).c_str(), static_cast<ngx_msec_t>(defaults::kCloseBoundaryWaitMs));
    count_websocket_close(core::CloseReason::kNoFrameBoundary);
    finish(ws);
    return true;
  }
  int64_t now = now_ms();
  if (now >= ws->exp_ms) {
    begin_close(ws, core::CloseReason::kTokenExpired);
    return true;
  }
  // A store that cannot be read keeps the socket (check_session logs it),
  // but a mirror of a shared store unconfirmed past its max_staleness
  // vouches for no session: the socket closes, as new requests are refused.
  if (!ws->sid.empty()) {
    core::Status s = check_session(ws->r, ws->sid, ws->sub, ws->iat);
    if (s == core::Status::kRevoked) {
      begin_close(ws, core::CloseReason::kSessionRevoked);
      return true;
    }
    if (s == core::Status::kStoreUnavailable && worker().sessions && worker().sessions->stale()) {
      begin_close(ws, core::CloseReason::kSessionUnverifiable);
      return true;
    }
  }
  ngx_add_timer(&ws->timer, static_cast<ngx_msec_t>(std::min(ws->exp_ms - now, ws->recheck_ms)));
  return true;
}

void on_timer(ngx_event_t* ev) {
  auto* ws = static_cast<WsState*>(ev->data);
  // An exception ends the socket: its lifetime can no longer be enforced.
  if (!at_boundary(ws->r->connection->log, false, [ws] { return on_timer_event(ws); })) finish(ws);
}

void on_finish(ngx_event_t* ev) { finish(static_cast<WsState*>(ev->data)); }

// In front of the client connection's send() after the 101.
ssize_t tracked_send_bytes(ngx_connection_t* c, u_char* buf, size_t size) {
  auto* r = static_cast<ngx_http_request_t*>(c->data);
  RequestCtx* ctx = get_ctx(r);
  WsState* ws = ctx ? ctx->ws : nullptr;
  if (ws == nullptr) return NGX_ERROR;  // cannot happen: installed with the state
  if (ws->close_sent) return static_cast<ssize_t>(size);  // the close is out; the rest is dropped
  size_t allowed = size;
  if (ws->close_pending) allowed = ws->to_client.rest_of_frame(buf, size);
  ssize_t n = allowed ? ws->client_send(c, buf, allowed) : 0;
  if (n > 0) ws->to_client.feed(buf, static_cast<size_t>(n));
  if (ws->close_pending && ws->to_client.at_boundary()) {
    if (ws->timer.timer_set) ngx_del_timer(&ws->timer);
    send_close(ws);
    // Closing from inside nginx's copy loop would free what it still
    // uses; the next turn of the event loop does it.
    ngx_post_event(&ws->finish, &ngx_posted_events);
    return n > 0 ? n : static_cast<ssize_t>(size);
  }
  return n;
}

ssize_t tracked_send(ngx_connection_t* c, u_char* buf, size_t size) {
  return at_boundary(c->log, ssize_t{NGX_ERROR}, [&] { return tracked_send_bytes(c, buf, size); });
}

ngx_int_t filter_headers(ngx_http_request_t* r) {
  if (r->headers_out.status != NGX_HTTP_SWITCHING_PROTOCOLS) return next_header_filter(r);
  RequestCtx* ctx = r == r->main ? get_ctx(r) : nullptr;
  // Defence in depth: in a spa_auth_websocket location no 101 reaches the
  // client unless the access handler let that upgrade through, whatever
  // the upstream made of the request. The connection is closed instead.
  if (r != r->main || *loc_settings(r).websocket) {
    if (ctx == nullptr || !ctx->upgrade_ok) {
      ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                    "spa_auth: the upstream switched protocols for an upgrade the module did not authorize; "
                    "connection closed");
      return NGX_ERROR;
    }
  }
  if (ctx == nullptr || ctx->ws == nullptr) return next_header_filter(r);
  WsState* ws = ctx->ws;
  if (ctx->token_from_subprotocol) {
    // The client offered `bearer, <jwt>`; it must get `bearer` back, and
    // nothing of the token, whatever the upstream chose.
    ngx_table_elt_t* h = find_header(&r->headers_out.headers, "sec-websocket-protocol");
    if (h == nullptr && !push_header(r, &r->headers_out.headers, "Sec-WebSocket-Protocol", "bearer", &h))
      return NGX_ERROR;
    ngx_str_set(&h->value, "bearer");
  }
  ngx_int_t rc = next_header_filter(r);
  if (rc == NGX_ERROR) return rc;
  ngx_connection_t* c = r->connection;
  ws->client_send = c->send;
  c->send = tracked_send;
  int64_t now = now_ms();
  ngx_add_timer(&ws->timer, static_cast<ngx_msec_t>(std::max<int64_t>(0, std::min(ws->exp_ms - now, ws->recheck_ms))));
  return rc;
}

ngx_int_t header_filter(ngx_http_request_t* r) {
  return at_boundary(r->connection->log, ngx_int_t{NGX_ERROR}, [r] { return filter_headers(r); });
}

bool is_subprotocol_header(const ngx_table_elt_t& h, const void*) { return header_named(h, "sec-websocket-protocol"); }

}  // namespace

// Upgrade is a list (RFC 9110 §7.8) and may come in several lines: any
// element naming websocket, in any case, with OWS or a version, counts.
bool is_upgrade(ngx_http_request_t* r) { return core::upgrade_offers(header_lines(r, "upgrade"), "websocket"); }

// Cross-site WebSocket hijacking: a browser sends Origin with every
// upgrade, and cookies with it. No list: the page must be on this host
// (scheme, host and port, not the host alone).
bool websocket_origin_allowed(ngx_http_request_t* r, const LocSettings& s) {
  if (find_header(&r->headers_in.headers, "origin") == nullptr) return true;  // not a browser: no cookies uninvited
  return core::origin_allowed(header_lines(r, "origin"), *s.ws_origins, request_scheme(r), request_host(r));
}

bool subprotocol_token(ngx_http_request_t* r, std::string_view& token) {
  std::string rest;
  return core::subprotocol_bearer(header_lines(r, "sec-websocket-protocol"), token, rest) && !token.empty();
}

bool strip_subprotocol_token(ngx_http_request_t* r) {
  std::string rest;
  if (!core::remove_bearer_subprotocols(header_lines(r, "sec-websocket-protocol"), rest)) return true;
  // Every line goes; one line with the offer minus the token replaces them.
  if (!remove_request_headers(r, is_subprotocol_header, nullptr)) return false;
  return push_header(r, &r->headers_in.headers, "Sec-WebSocket-Protocol", rest);
}

ngx_int_t websocket_authorized(ngx_http_request_t* r, RequestCtx* ctx, const LocSettings& s, bool from_subprotocol) {
  WsState* ws = pool_new<WsState>(r->pool);
  if (ws == nullptr) return NGX_ERROR;
  ws->r = r;
  ws->exp_ms = ctx->token->claims.exp * 1000;
  ws->recheck_ms = *s.ws_recheck_ms;
  ws->sid = ctx->token->claims.sid;
  ws->sub = ctx->token->claims.sub;
  ws->iat = ctx->token->claims.iat;
  ws->timer.handler = on_timer;
  ws->timer.data = ws;
  ws->timer.log = r->connection->log;
  ws->finish.handler = on_finish;
  ws->finish.data = ws;
  ws->finish.log = r->connection->log;
  ctx->ws = ws;
  ctx->token_from_subprotocol = from_subprotocol;
  return NGX_OK;
}

void install_websocket_filter() {
  next_header_filter = ngx_http_top_header_filter;
  ngx_http_top_header_filter = header_filter;
}

}  // namespace spa::ngx
