#include "authd/service_types.h"

#include "authd/passwords.h"
#include "authd/server.h"
#include "authd/store.h"

namespace spa::authd {

using json = nlohmann::json;

Outcome Outcome::error(Errc errc, std::string message, int64_t retry_after) {
  Outcome o;
  o.status = http_status(errc);
  o.errc = errc;
  o.code = std::string(error_code(errc));
  o.message = std::move(message);
  o.retry_after = retry_after;
  return o;
}

Outcome store_failure(const std::string& err) {
  // Logged by the store, once per episode.
  if (err == Store::kFullError)
    return Outcome::error(Errc::kStoreFull, "the service cannot store more data right now; try again later");
  if (err == Store::kReplacedError)
    return Outcome::error(Errc::kStoreReplaced, "the store is being replaced; try again later");
  log_event("error", "store_failed", {{"reason", err}});
  return Outcome::error(Errc::kStoreFailed, "internal error");
}

Outcome server_busy() {
  return Outcome::error(Errc::kServerBusy, "too many sign-ins at once; try again in a moment",
                        PasswordHasher::kRetryAfter);
}

json public_user(const json& u) {
  json providers = json::array();
  for (const auto& i : identities_of(u)) providers.push_back(i.value("provider", ""));
  return {{"id", u.value("id", "")},
          {"email", u.value("email", "")},
          {"username", u.value("username", "")},
          {"role", u.value("role", "user")},
          {"disabled", u.value("disabled", false)},
          {"created_at", u.value("created_at", int64_t{0})},
          {"email_verified", u.value("email_verified", false)},
          {"mfa_enabled", u.contains("mfa") && u["mfa"].value("enabled", false)},
          {"has_password", !u.value("password", "").empty()},
          {"providers", providers}};
}

int64_t credential_epoch(const json& u) { return u.value("credential_epoch", int64_t{0}); }

json identities_of(const json& u) {
  auto it = u.find("identities");
  return it != u.end() && it->is_array() ? *it : json::array();
}

std::string identity_key(const std::string& provider, const std::string& subject) { return provider + ":" + subject; }

json first_factors(const json& amr) {
  json first = json::array();
  if (amr.is_array())
    for (const auto& m : amr)
      if (m != "otp" && m != "mfa") first.push_back(m);
  if (first.empty()) first.push_back("pwd");
  return first;
}

}  // namespace spa::authd
