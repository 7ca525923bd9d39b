// What every service of spa-authd speaks: who calls (Principal, ClientInfo)
// and what it answers (Outcome, IssuedTokens), without HTTP. routes.cc
// turns an Outcome into a response; errors.cc decides the status and code
// of each Errc.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "authd/errors.h"

namespace spa::authd {

struct ClientInfo {
  // Bounds of what is kept (session metadata); routes.cc clips at entry.
  static constexpr size_t kMaxIpBytes = 64;
  static constexpr size_t kMaxUserAgentBytes = 256;
  std::string request_id;
  std::string ip;
  std::string user_agent;
};

struct IssuedTokens {
  std::string access_token;
  std::string refresh_token;
  int64_t expires_in = 0;
};

// A response in the making: either data (and maybe tokens), or an error.
// `status` and `code` of an error are the table's for `errc` (errors.cc),
// set once by Outcome::error; they are fields so that a route and a test
// read them without asking the table again.
struct Outcome {
  int status = 200;  // of a success: 200, 201 created, 202 accepted
  Errc errc = Errc::kOk;
  std::string code;  // snake_case, "" when ok
  std::string message;
  nlohmann::json data = nlohmann::json::object();
  std::optional<IssuedTokens> tokens;
  int64_t retry_after = 0;
  int64_t max_age = 0;       // reauthentication_required: the largest auth age accepted (RFC 9470)
  bool end_session = false;  // tell the browser to drop its cookies

  bool ok() const { return errc == Errc::kOk; }
  static Outcome error(Errc errc, std::string message, int64_t retry_after = 0);
};

// The one place a store error becomes an answer, by its code:
// kStoreFull, kStoreReplaced and kStoreUnwritable as they are (the store
// logs those, once per episode), anything else logged here and answered
// 500 internal_error.
Outcome store_failure(const Error& err);

// 503 server_busy with Retry-After: every Argon2 slot busy, the queue full.
Outcome server_busy();

// Who is calling, from a verified access token whose session is active.
struct Principal {
  std::string user_id;
  std::string sid;
  int64_t auth_time = 0;  // the token's: when the user last proved who they are
  bool second_factor = false;  // the token's amr lists a second factor
  // The token's claims as text ("" when absent): what GET /api/v1/auth/verify
  // hands to nginx's auth_request as X-User-* headers.
  std::string email, username, role;
};

// The first factors of a session's amr (second factors, "otp" and "mfa",
// left out); ["pwd"] when nothing else is left.
std::vector<std::string> first_factors(const std::vector<std::string>& amr);

}  // namespace spa::authd
