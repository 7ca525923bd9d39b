#include "authd/service_types.h"

#include "authd/passwords.h"
#include "authd/server.h"

namespace spa::authd {

Outcome Outcome::error(Errc errc, std::string message, int64_t retry_after) {
  Outcome o;
  o.status = http_status(errc);
  o.errc = errc;
  o.code = std::string(error_code(errc));
  o.message = std::move(message);
  o.retry_after = retry_after;
  return o;
}

Outcome store_failure(const Error& err) {
  switch (err.code) {
    case Errc::kStoreFull:  // logged by the store, once per episode
      return Outcome::error(Errc::kStoreFull, "the service cannot store more data right now; try again later");
    case Errc::kStoreReplaced:
      return Outcome::error(Errc::kStoreReplaced, "the store is being replaced; try again later");
    case Errc::kStoreUnwritable:  // logged by the store, once per episode
      return Outcome::error(Errc::kStoreUnwritable, "the service cannot store data right now; try again later");
    case Errc::kStoreUnavailable:  // PostgreSQL gone: logged by the store, once per episode
      return Outcome::error(Errc::kStoreUnavailable, "the service's database cannot be reached; try again shortly", 2);
    default:
      log_event("error", "store_failed", {{"reason", err.message}});
      return Outcome::error(Errc::kStoreFailed, "internal error");
  }
}

Outcome server_busy() {
  return Outcome::error(Errc::kServerBusy, "too many sign-ins at once; try again in a moment",
                        PasswordHasher::kRetryAfter);
}

std::vector<std::string> first_factors(const std::vector<std::string>& amr) {
  std::vector<std::string> first;
  for (const auto& m : amr)
    if (m != "otp" && m != "mfa") first.push_back(m);
  if (first.empty()) first.push_back("pwd");
  return first;
}

}  // namespace spa::authd
