#include "authd/admin_service.h"

#include "authd/passwords.h"
#include "core/session_record.h"

namespace spa::authd {

using json = nlohmann::json;

std::optional<Outcome> AdminService::require_admin(const Principal& who) {
  std::optional<UserRecord> user;
  if (Error e = store_.view([&](const Store::Txn& t) { user = load_user(t, who.user_id); }); !e.ok())
    return store_failure(e);
  if (!user || user->role != "admin" || user->disabled) return Outcome::error(Errc::kForbidden, "administrators only");
  // A stolen password (or a session opened with one) is not enough to
  // administer everyone: the session must have passed a second factor.
  if (config_.admin_require_mfa && !who.second_factor)
    return Outcome::error(Errc::kMfaRequired, "administration needs a session signed in with a second factor");
  return std::nullopt;
}

Outcome AdminService::admin_list_users(const Principal& who, const std::string& after, size_t limit) {
  if (auto denied = require_admin(who)) return *denied;
  json users = json::array();
  std::string next;
  // From the first key after `after` (the page before ended there), not
  // from the start of the table.
  Error e = store_.view([&](const Store::Txn& t) {
    t.scan_from(Db::kUsers, after, [&](std::string_view key, std::string_view v) {
      if (!after.empty() && key <= after) return true;  // `after` itself
      if (users.size() == limit) {
        next = users.back()["id"].get<std::string>();
        return false;
      }
      if (auto u = UserRecord::from_json(v)) users.push_back(u->public_view());
      return true;
    });
  });
  if (!e.ok()) return store_failure(e);
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
  Error e = store_.transact(
      [&](Store::Txn& t) {
        auto user = load_user(t, user_id);
        if (!user) {
          result = Outcome::error(Errc::kNotFound, "no such user");
          return TxnEnd::kAbort;
        }
        UserRecord& u = *user;
        bool disable = changes.value("disabled", u.disabled);
        if (changes.contains("role") && changes["role"] != u.role) {
          // Tokens saying the old role stop passing nginx at once; the next
          // refresh gets one with the new role.
          u.role = changes["role"].get<std::string>();
          if (!issuer_.floor_all_sessions(t, user_id, now)) return TxnEnd::kAbort;
        }
        if (disable && !u.disabled) {
          // The module refuses the user's tokens from the next request on.
          if (!issuer_.end_all_sessions(t, user_id, now, core::SessionState::kUserDisabled) ||
              !issuer_.new_credentials(t, u))
            return TxnEnd::kAbort;
          issuer_.audit(t, "user_disabled", u, client, now);
        } else if (disable && !issuer_.end_all_sessions(t, user_id, now, core::SessionState::kUserDisabled)) {
          // (disabled already: its sessions are ended, and end_session has
          // the answer wait until this node's nginx refuses them too)
          return TxnEnd::kAbort;
        }
        u.disabled = disable;
        u.updated_at = now;
        issuer_.audit(t, "user_changed", u, client, now);
        result.data = {{"user", u.public_view()}};
        return commit_if(save_user(t, u));
      },
      Store::WriteKind::kRevocation);
  return e.ok() ? result : store_failure(e);
}

Outcome AdminService::set_role(const std::string& email, const std::string& role) {
  if (role != "user" && role != "admin")
    return Outcome::error(Errc::kValidationFailed, "role must be user or admin");
  Outcome result = Outcome::error(Errc::kNotFound, "no account with this e-mail");
  Error e = store_.transact(
      [&](Store::Txn& t) {
        auto id = t.get(Db::kUsersByEmail, fold(email));
        auto user = id ? load_user(t, *id) : std::nullopt;
        if (!user) return TxnEnd::kAbort;
        int64_t now = issuer_.now();
        if (user->role != role && !issuer_.floor_all_sessions(t, *id, now)) return TxnEnd::kAbort;
        user->role = role;
        user->updated_at = now;
        result = Outcome();
        result.data = {{"user", user->public_view()}};
        return commit_if(save_user(t, *user));
      },
      Store::WriteKind::kRevocation);  // a demotion must land in a full store too
  return e.ok() ? result : store_failure(e);
}

}  // namespace spa::authd
