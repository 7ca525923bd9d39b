// Routes of AdminService: /api/v1/admin/users.
#include <algorithm>

#include "authd/routes_api.h"

namespace spa::authd::routes::admin {

void list_users(Api& api, const Request& req, Response& res) {
  auto who = api.principal(req, res);
  if (!who) return;
  size_t limit = 100;
  if (req.has_param("limit")) {
    try {
      limit = std::clamp<size_t>(std::stoul(req.get_param_value("limit")), 1, 1000);
    } catch (const std::exception&) {
      return api.send(req, res, Outcome::error(Errc::kValidationFailed, "limit must be a number"));
    }
  }
  api.send(req, res, api.admin.admin_list_users(*who, req.get_param_value("after").substr(0, 64), limit));
}

void update_user(Api& api, const Request& req, Response& res) {
  auto call = api.signed_in_body(req, res);
  if (!call) return;
  auto& [who, j] = *call;
  api.send(req, res, api.admin.admin_update_user(who, req.matches[1], j, client_of(req)));
}

}  // namespace spa::authd::routes::admin
