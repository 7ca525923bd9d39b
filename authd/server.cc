#include "authd/server.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>

#include <nlohmann/json.hpp>

#include "authd/files.h"
#include "core/envelope.h"

namespace spa::authd {
namespace {

constexpr size_t kMaxBodyBytes = 64 * 1024;

// Debian's cpp-httplib listens with a backlog of 5: a burst of new
// connections from nginx would get EAGAIN (a 502). Linux lets a second
// listen() on the bound socket raise it; find that socket by its path.
bool widen_backlog(const std::string& path) {
  for (int fd = 0; fd < 1024; ++fd) {
    sockaddr_un addr{};
    socklen_t len = sizeof addr;
    int listening = 0;
    socklen_t optlen = sizeof listening;
    if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0 || addr.sun_family != AF_UNIX) continue;
    if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &optlen) != 0 || !listening) continue;
    if (path != addr.sun_path) continue;
    return ::listen(fd, SOMAXCONN) == 0;
  }
  return false;
}

int64_t unix_now() { return static_cast<int64_t>(std::time(nullptr)); }

// Request ids come from nginx ($request_id, 32 hex); anything else is
// replaced, so a client cannot write into our logs through it.
bool is_request_id(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
  return true;
}

}  // namespace

void log_event(const std::string& level, const std::string& event, const std::map<std::string, std::string>& fields) {
  static std::mutex mu;
  nlohmann::ordered_json line = {{"ts", core::utc_timestamp(unix_now())}, {"level", level}, {"event", event}};
  for (const auto& [k, v] : fields) line[k] = v;
  std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::lock_guard<std::mutex> lock(mu);
  std::fprintf(stdout, "%s\n", text.c_str());
  std::fflush(stdout);
}

AuthServer::AuthServer(size_t slow_threads) {
  server_.set_address_family(AF_UNIX);
  // cpp-httplib serves a connection on one pool thread for its whole life:
  // whatever slow work holds, kQuickThreads stay free for quick requests.
  server_.new_task_queue = [slow_threads] { return new httplib::ThreadPool(kQuickThreads + slow_threads); };
  server_.set_payload_max_length(kMaxBodyBytes);
  server_.set_read_timeout(5, 0);
  server_.set_write_timeout(5, 0);
  server_.set_idle_interval(0, 0);
  // nginx connects per request (no upstream keepalive: see docs/authd.md);
  // other clients may keep a connection for a while, but an idle one holds
  // a pool thread and delays shutdown, so not for long.
  server_.set_keep_alive_max_count(1000);
  server_.set_keep_alive_timeout(5);
  server_.set_error_handler([](const httplib::Request& req, httplib::Response& res) {
    if (!res.body.empty()) return;
    switch (res.status) {
      case 400: send_error(req, res, 400, "invalid_request", "malformed request"); break;
      case 404: send_error(req, res, 404, "not_found", "no such endpoint"); break;
      case 405: send_error(req, res, 405, "method_not_allowed", "method not allowed"); break;
      case 413: send_error(req, res, 413, "payload_too_large", "request body too large"); break;
      default: send_error(req, res, res.status, "error", "request failed"); break;
    }
  });
  server_.set_exception_handler([](const httplib::Request& req, httplib::Response& res, std::exception_ptr) {
    // The exception text may hold request data; it is not logged or sent.
    send_error(req, res, 500, "internal_error", "internal error");
  });
  server_.set_logger([this](const httplib::Request& req, const httplib::Response& res) { log_request(req, res); });
}

std::string AuthServer::request_id(const httplib::Request& req) {
  std::string id = req.get_header_value("X-Request-Id");
  return is_request_id(id) ? id : std::string();
}

void AuthServer::send_error(const httplib::Request& req, httplib::Response& res, int status, const std::string& code,
                            const std::string& message, const nlohmann::json& extra) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  std::string body = core::error_envelope(code, message, request_id(req), unix_now());
  if (!extra.empty()) {
    // Fields beside code and message (max_age for a step-up).
    nlohmann::json j = nlohmann::json::parse(body);
    for (const auto& [k, v] : extra.items()) j["error"][k] = v;
    body = j.dump();
  }
  res.set_content(body + "\n", "application/json");
}

void AuthServer::log_request(const httplib::Request& req, const httplib::Response& res) {
  {
    std::lock_guard<std::mutex> lock(metrics_mu_);
    ++responses_by_status_[res.status];
  }
  // The path only: query strings can carry codes and tokens.
  log_event(res.status >= 500 ? "error" : "info", "request",
            {{"method", req.method},
             {"path", req.path.substr(0, 256)},
             {"status", std::to_string(res.status)},
             {"request_id", request_id(req)},
             {"client", req.get_header_value("X-Real-IP").substr(0, 64)}});
}

std::string AuthServer::metrics() const {
  std::string out = "# TYPE spa_authd_responses_total counter\n";
  std::lock_guard<std::mutex> lock(metrics_mu_);
  for (const auto& [status, n] : responses_by_status_)
    out += "spa_authd_responses_total{status=\"" + std::to_string(status) + "\"} " + std::to_string(n) + "\n";
  return out;
}

bool AuthServer::serve(const std::string& socket_path, std::string& err) {
  auto slash = socket_path.rfind('/');
  if (slash != std::string::npos && slash > 0 && !make_dirs(socket_path.substr(0, slash), 0755, err)) return false;
  struct stat st;
  if (::lstat(socket_path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      err = socket_path + " exists and is not a socket";
      return false;
    }
    ::unlink(socket_path.c_str());  // left by a previous run
  }
  if (!server_.bind_to_port(socket_path, 80)) {
    err = "cannot listen on " + socket_path;
    return false;
  }
  if (!widen_backlog(socket_path)) log_event("warn", "backlog_not_widened", {{"socket", socket_path}});
  // nginx (group) may connect; nobody else.
  if (::chmod(socket_path.c_str(), 0660) != 0) {
    err = "cannot set the mode of " + socket_path;
    ::unlink(socket_path.c_str());
    return false;
  }
  bool ok = server_.listen_after_bind();
  ::unlink(socket_path.c_str());
  if (!ok) err = "server stopped with an error";
  return ok;
}

}  // namespace spa::authd
