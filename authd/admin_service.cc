#include "authd/admin_service.h"

#include "authd/passwords.h"
#include "core/json_strict.h"
#include "core/session_record.h"

namespace spa::authd {

using json = nlohmann::json;

std::optional<Outcome> AdminService::require_admin(const Principal& who) {
  std::optional<json> user;
  std::string err;
  if (!store_.read([&](const Store::Txn& t) { user = load_json(t, Db::kUsers, who.user_id); }, err))
    return store_failure(err);
  if (!user || user->value("role", "") != "admin" || user->value("disabled", false))
    return Outcome::error(Errc::kForbidden, "administrators only");
  // A stolen password (or a session opened with one) is not enough to
  // administer everyone: the session must have passed a second factor.
  if (config_.admin_require_mfa && !who.second_factor)
    return Outcome::error(Errc::kMfaRequired, "administration needs a session signed in with a second factor");
  return std::nullopt;
}

Outcome AdminService::admin_list_users(const Principal& who, const std::string& after, size_t limit) {
  if (auto denied = require_admin(who)) return *denied;
  json users = json::array();
  std::string next, err;
  bool ok = store_.read(
      [&](const Store::Txn& t) {
        t.scan(Db::kUsers, "", [&](std::string_view key, std::string_view v) {
          if (!after.empty() && key <= after) return true;
          if (users.size() == limit) {
            next = std::string(users.back()["id"].get<std::string>());
            return false;
          }
          json u;
          std::string e;
          if (core::parse_json_strict(v, u, e) && u.is_object()) users.push_back(public_user(u));
          return true;
        });
      },
      err);
  if (!ok) return store_failure(err);
  Outcome o;
  o.data = {{"users", users}};
  if (!next.empty()) o.data["next"] = next;
  return o;
}

Outcome AdminService::admin_update_user(const Principal& who, const std::string& user_id, const json& changes,
                                        const ClientInfo& client) {
  if (auto denied = require_admin(who)) return *denied;
  for (const auto& [k, v] : changes.items()) {
    if (k == "role" && v.is_string() && (v == "user" || v == "admin")) continue;
    if (k == "disabled" && v.is_boolean()) continue;
    return Outcome::error(Errc::kValidationFailed,
                          "only role (\"user\" or \"admin\") and disabled (boolean) can change");
  }
  if (user_id == who.user_id && (changes.contains("disabled") || changes.value("role", "admin") != "admin"))
    return Outcome::error(Errc::kValidationFailed, "administrators cannot disable or demote themselves");
  int64_t now = issuer_.now();
  Outcome result;
  std::string err;
  bool ok = store_.write(
      [&](Store::Txn& t) {
        auto user = load_json(t, Db::kUsers, user_id);
        if (!user) {
          result = Outcome::error(Errc::kNotFound, "no such user");
          return false;
        }
        json& u = *user;
        bool disable = changes.value("disabled", u.value("disabled", false));
        if (changes.contains("role") && changes["role"] != u.value("role", "user")) {
          // Tokens saying the old role stop passing nginx at once; the next
          // refresh gets one with the new role.
          u["role"] = changes["role"];
          if (!issuer_.floor_all_sessions(t, user_id, now)) return false;
        }
        if (disable && !u.value("disabled", false)) {
          // The module refuses the user's tokens from the next request on.
          if (!issuer_.end_all_sessions(t, user_id, now, core::SessionState::kUserDisabled) ||
              !issuer_.new_credentials(t, u))
            return false;
          issuer_.audit(t, "user_disabled", u, client, now);
        }
        u["disabled"] = disable;
        u["updated_at"] = now;
        issuer_.audit(t, "user_changed", u, client, now);
        result.data = {{"user", public_user(u)}};
        return t.put(Db::kUsers, user_id, u.dump());
      },
      err, Store::WriteKind::kRevocation);
  if (!ok && !err.empty()) return store_failure(err);
  return result;
}

Outcome AdminService::set_role(const std::string& email, const std::string& role) {
  if (role != "user" && role != "admin")
    return Outcome::error(Errc::kValidationFailed, "role must be user or admin");
  Outcome result = Outcome::error(Errc::kNotFound, "no account with this e-mail");
  std::string err;
  bool ok = store_.write(
      [&](Store::Txn& t) {
        auto id = t.get(Db::kUsersByEmail, fold(email));
        auto user = id ? load_json(t, Db::kUsers, *id) : std::nullopt;
        if (!user) return false;
        int64_t now = issuer_.now();
        if ((*user)["role"] != role && !issuer_.floor_all_sessions(t, *id, now)) return false;
        (*user)["role"] = role;
        (*user)["updated_at"] = now;
        result = Outcome();
        result.data = {{"user", public_user(*user)}};
        return t.put(Db::kUsers, *id, user->dump());
      },
      err, Store::WriteKind::kRevocation);  // a demotion must land in a full store too
  if (!ok && !err.empty()) return store_failure(err);
  return result;
}

}  // namespace spa::authd
