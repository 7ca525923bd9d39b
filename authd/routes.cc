#include "authd/routes.h"

#include <chrono>
#include <ctime>
#include <memory>

#include "authd/files.h"
#include "authd/metrics.h"
#include "authd/routes_api.h"
#include "core/envelope.h"

namespace spa::authd {
namespace {

using routes::Api;
using routes::Handler;
using http::Request;
using http::Response;
using Add = http::Server& (http::Server::*)(const std::string&, http::Handler);

int64_t unix_now() { return static_cast<int64_t>(std::time(nullptr)); }

// --- the daemon's own routes

void health(Api&, const Request& req, Response& res) {
  res.set_content(core::success_envelope({{"status", "ok"}}, AuthServer::request_id(req), unix_now()) + "\n",
                  "application/json");
}

// The module reads the same file; this is for other verifiers.
void jwks(Api& api, const Request& req, Response& res) {
  std::string text, e;
  if (!read_file(api.config.jwks_file, text, e))
    return AuthServer::send_error(req, res, Errc::kKeysUnavailable, "keys not published");
  res.set_header("Cache-Control", "public, max-age=60");
  res.set_content(text, "application/jwk-set+json");
}

void metrics(Api& api, const Request&, Response& res) {
  std::string text = metrics::text();
  for (const auto& source : api.metric_sources) text += source();
  res.set_content(text, "text/plain; version=0.0.4");
}

struct Route {
  Add add;
  const char* path;  // matched against the whole path (std::regex_match)
  Handler handler;
};

// Every route, in one place. A path pattern names its parameter once:
// session and user ids are 32 hex digits, provider names 1 to 32 of [a-z0-9_-].
const Route kRoutes[] = {
    {&http::Server::Post, "/api/v1/auth/signup", routes::accounts::signup},
    {&http::Server::Post, "/api/v1/auth/login", routes::sessions::login},
    {&http::Server::Post, "/api/v1/auth/refresh", routes::sessions::refresh},
    {&http::Server::Post, "/api/v1/auth/logout", routes::sessions::logout},
    {&http::Server::Get, "/api/v1/auth/me", routes::accounts::me},
    {&http::Server::Get, "/api/v1/auth/verify", routes::sessions::verify},
    {&http::Server::Get, "/api/v1/auth/sessions", routes::sessions::list},
    {&http::Server::Post, "/api/v1/auth/password-reset/request", routes::credentials::reset_request},
    {&http::Server::Post, "/api/v1/auth/password-reset/confirm", routes::credentials::reset_confirm},
    {&http::Server::Post, "/api/v1/auth/verify-email/request", routes::accounts::verify_email_request},
    {&http::Server::Post, "/api/v1/auth/verify-email/confirm", routes::accounts::verify_email_confirm},
    {&http::Server::Post, "/api/v1/auth/reauthenticate", routes::credentials::reauthenticate},
    {&http::Server::Post, "/api/v1/auth/password", routes::credentials::change_password},
    {&http::Server::Post, "/api/v1/mfa/setup", routes::mfa::setup},
    {&http::Server::Post, "/api/v1/mfa/email-code", routes::mfa::email_code},
    {&http::Server::Get, "/api/v1/mfa/status", routes::mfa::status},
    {&http::Server::Post, "/api/v1/mfa/enable", routes::mfa::enable},
    {&http::Server::Post, "/api/v1/mfa/disable", routes::mfa::disable},
    {&http::Server::Post, "/api/v1/mfa/backup-codes", routes::mfa::backup_codes},
    {&http::Server::Post, "/api/v1/mfa/verify", routes::mfa::verify},
    {&http::Server::Post, "/api/v1/mfa/verify-backup", routes::mfa::verify_backup},
    {&http::Server::Get, "/api/v1/auth/export", routes::accounts::export_data},
    {&http::Server::Delete, "/api/v1/auth/account", routes::accounts::delete_account},
    {&http::Server::Get, "/api/v1/admin/users", routes::admin::list_users},
    {&http::Server::Patch, R"(/api/v1/admin/users/([0-9a-f]{32}))", routes::admin::update_user},
    {&http::Server::Delete, R"(/api/v1/auth/sessions/([0-9a-f]{32}))", routes::sessions::revoke},
    {&http::Server::Get, "/api/v1/oauth/providers", routes::oauth::providers},
    {&http::Server::Get, R"(/api/v1/oauth/([a-z0-9_-]{1,32})/start)", routes::oauth::start},
    {&http::Server::Get, R"(/api/v1/oauth/([a-z0-9_-]{1,32})/callback)", routes::oauth::callback},
    {&http::Server::Post, "/api/v1/oauth/link", routes::oauth::link},
    {&http::Server::Post, "/api/v1/oauth/unlink", routes::oauth::unlink},
    {&http::Server::Get, "/health", health},
    {&http::Server::Get, "/api/v1/auth/jwks.json", jwks},
    {&http::Server::Get, "/metrics", metrics},
};

const char* method_name(Add add) {
  if (add == &http::Server::Post) return "POST";
  if (add == &http::Server::Patch) return "PATCH";
  if (add == &http::Server::Delete) return "DELETE";
  return "GET";
}

// The route as a metrics label: its pattern with each parameter named
// ("/api/v1/auth/sessions/{id}"), never the path a client sent.
std::string route_label(std::string_view pattern) {
  std::string out;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '(') {
      out += pattern[i];
      continue;
    }
    size_t end = pattern.find(')', i);
    if (end == std::string_view::npos) end = pattern.size() - 1;
    out += pattern.substr(i, end - i).find("0-9a-f]{32}") != std::string_view::npos ? "{id}" : "{provider}";
    i = end;
  }
  return out;
}

// Observes the handler's time on every way out (a handler that throws is
// answered 500 by the server).
class Timed {
 public:
  Timed(const char* method, const std::string& route) : method_(method), route_(route) {}
  Timed(const Timed&) = delete;
  Timed& operator=(const Timed&) = delete;
  ~Timed() {
    std::chrono::duration<double> took = std::chrono::steady_clock::now() - start_;
    metrics::observe_route(method_, route_, took.count());
  }

 private:
  const char* method_;
  const std::string& route_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

}  // namespace

void register_routes(AuthServer& server, AuthService& services, OAuthLogin& oauth, const Config& config,
                     std::vector<std::function<std::string()>> metric_sources) {
  auto api = std::make_shared<Api>(services, oauth, config, std::move(metric_sources));
  for (const Route& r : kRoutes) {
    const char* method = method_name(r.add);
    std::string label = route_label(r.path);
    metrics::declare_route(method, label);
    (server.http().*r.add)(r.path, [api, h = r.handler, method, label](const Request& req, Response& res) {
      Timed timed(method, label);
      h(*api, req, res);
    });
  }
}

}  // namespace spa::authd
