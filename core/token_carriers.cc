#include "core/token_carriers.h"

#include <algorithm>

#include "core/cookies.h"
#include "core/http_fields.h"

namespace spa::core {

std::optional<std::string_view> bearer_token(std::string_view v) {
  constexpr std::string_view kScheme = "bearer ";
  if (v.size() <= kScheme.size() || !iequals(v.substr(0, kScheme.size()), kScheme)) return std::nullopt;
  v.remove_prefix(kScheme.size());
  while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
  while (!v.empty() && v.back() == ' ') v.remove_suffix(1);
  if (v.empty()) return std::nullopt;
  return v;
}

bool may_carry_token(std::string_view authorization) {
  std::string_view v = trim_ows(authorization);
  size_t sp = v.find_first_of(" \t");
  std::string_view scheme = v.substr(0, sp);
  std::string_view rest = sp == std::string_view::npos ? v : trim_ows(v.substr(sp));
  auto jws_like = [](std::string_view t) {
    return t.substr(0, 3) == "eyJ" && std::count(t.begin(), t.end(), '.') >= 2;
  };
  return iequals(scheme, "bearer") || iequals(scheme, "jwt") || iequals(scheme, "token") || jws_like(v) ||
         jws_like(rest);
}

Status cookie_token(const std::vector<std::string_view>& cookie_lines, std::string_view name, std::string_view& token) {
  CookieLookup cookie = lookup_cookie(cookie_lines, name);
  if (cookie.duplicate()) return Status::kDuplicateCookie;
  if (!cookie.value || cookie.value->empty()) return Status::kMissing;
  token = *cookie.value;
  return Status::kOk;
}

}  // namespace spa::core
