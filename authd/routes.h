// HTTP routes of /api/v1/{auth,mfa,oauth,admin}: request parsing, cookies and Origin checks
// around AuthService.
#pragma once

#include "authd/auth_service.h"
#include "authd/config.h"
#include "authd/oauth.h"
#include "authd/server.h"

namespace spa::authd {

void register_auth_routes(AuthServer& server, AuthService& service, OAuthLogin& oauth, const Config& config);

}  // namespace spa::authd
