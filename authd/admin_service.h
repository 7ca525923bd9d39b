// Administration (authd/admin_service.cc): list users, change a role or
// disable an account, for the role "admin" read from the store (not the
// token), in a session that passed a second factor ([security]
// admin_require_mfa); and the CLI's `users set-role`.
#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "authd/service_types.h"
#include "authd/session_issuer.h"

namespace spa::authd {

class AdminService : public ServiceBase {
 public:
  using ServiceBase::ServiceBase;

  Outcome admin_list_users(const Principal& who, const std::string& after, size_t limit);
  // `changes`: role ("user" or "admin") and disabled (boolean) only.
  Outcome admin_update_user(const Principal& who, const std::string& user_id, const nlohmann::json& changes,
                            const ClientInfo& client);
  // For the CLI: give an existing account a role ("user" or "admin").
  Outcome set_role(const std::string& email, const std::string& role);

 private:
  std::optional<Outcome> require_admin(const Principal& who);
};

}  // namespace spa::authd
