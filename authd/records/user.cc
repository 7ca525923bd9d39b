#include "authd/records/user.h"

namespace spa::authd {

nlohmann::json UserRecord::public_view() const {
  nlohmann::json providers = nlohmann::json::array();
  for (const auto& i : identities.value_or(std::vector<Identity>{})) providers.push_back(i.provider);
  return {{"id", id},
          {"email", email},
          {"username", username},
          {"role", role},
          {"disabled", disabled},
          {"created_at", created_at},
          {"email_verified", verified()},
          {"mfa_enabled", mfa_enabled()},
          {"has_password", !password.empty()},
          {"providers", providers}};
}

}  // namespace spa::authd
