// The session lookup: every request, cached token or not, reads the
// token's session in spa-authd's store (read-only LMDB, core/
// session_reader.h), so a logout takes effect at once. A store that cannot
// be read refuses with 503 (fail closed) and is logged once per episode in
// this worker, not once per request.
#include "ngx_http_spa_auth_module/spa_auth.h"

namespace spa::ngx {

core::Status check_session(ngx_http_request_t* r, std::string_view sid, std::string_view sub,
                           std::optional<int64_t> iat) {
  Worker& w = worker();
  if (!w.sessions_wanted) return core::Status::kOk;
  if (w.sessions == nullptr) {
    if (!w.store_failing)
      ngx_log_error(NGX_LOG_ERR, r->connection->log, 0, "spa_auth: session store is not open in this worker");
    w.store_failing = true;
    count_store_lookup(core::StoreLookup::kError);
    return core::Status::kStoreUnavailable;
  }
  w.sessions->refresh(ngx_time());  // a replaced or repaired file is reopened within a second
  std::string err;
  auto lookup = w.sessions->check(sid, sub, ngx_time(), iat, err);
  if (lookup != core::SessionReader::Lookup::kError && w.store_failing) {
    w.store_failing = false;
    ngx_log_error(NGX_LOG_NOTICE, r->connection->log, 0, "spa_auth: session store readable again");
  }
  switch (lookup) {
    case core::SessionReader::Lookup::kValid:
      count_store_lookup(core::StoreLookup::kValid);
      return core::Status::kOk;
    case core::SessionReader::Lookup::kRevoked:
    case core::SessionReader::Lookup::kUnknown:
      ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                    "spa_auth: token refused: session revoked, unknown or not the subject's");
      count_store_lookup(core::StoreLookup::kRevoked);
      return core::Status::kRevoked;
    case core::SessionReader::Lookup::kError:
      break;
  }
  if (!w.store_failing)
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0, "spa_auth: session store unavailable: %s", err.c_str());
  w.store_failing = true;
  count_store_lookup(core::StoreLookup::kError);
  return core::Status::kStoreUnavailable;
}

}  // namespace spa::ngx
