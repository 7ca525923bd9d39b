// Every HTTP route of spa-authd, registered in one table (authd/routes.cc):
// /api/v1/{auth,mfa,oauth,admin}, /health, /api/v1/auth/jwks.json and
// /metrics. Handlers live by feature in authd/routes_*.cc; each reads the
// request, calls the one service it needs and answers (authd/routes_api.h).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "authd/auth_service.h"
#include "authd/config.h"
#include "authd/oauth.h"
#include "authd/server.h"

namespace spa::authd {

// `metric_sources`: what /metrics answers, concatenated in this order.
void register_routes(AuthServer& server, AuthService& services, OAuthLogin& oauth, const Config& config,
                     std::vector<std::function<std::string()>> metric_sources);

}  // namespace spa::authd
