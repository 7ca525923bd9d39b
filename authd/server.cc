#include "authd/server.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cxxabi.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <memory>
#include <typeinfo>

#include <nlohmann/json.hpp>

#include "authd/files.h"
#include "core/envelope.h"

namespace spa::authd {
namespace {


int64_t unix_now() { return static_cast<int64_t>(std::time(nullptr)); }

// Request ids come from nginx ($request_id, 32 hex); anything else is
// replaced, so a client cannot write into our logs through it.
bool is_request_id(const std::string& s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
  return true;
}

// The type of the exception being handled, demangled ("std::out_of_range",
// "nlohmann::json_abi_v3_11_2::detail::type_error"); only inside a catch.
std::string current_exception_type() {
  const std::type_info* type = abi::__cxa_current_exception_type();
  if (!type) return "unknown";
  int status = 0;
  std::unique_ptr<char, void (*)(void*)> name(abi::__cxa_demangle(type->name(), nullptr, nullptr, &status), std::free);
  return status == 0 && name ? std::string(name.get()) : std::string(type->name());
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

AuthServer::AuthServer(size_t slow_threads) : server_(http::ServerOptions{kQuickThreads + slow_threads}) {
  // A connection holds one pool thread while its request is read and
  // answered: whatever slow work holds, kQuickThreads stay free for quick
  // requests. Refusals at the edge (authd/http_edge.h) and unknown paths.
  server_.set_error_sender([](const http::Request& req, http::Response& res, int status, const std::string& code,
                              const std::string& message) { send_error(req, res, status, code, message); });
  server_.set_error_handler([](const http::Request& req, http::Response& res) {
    // A safety net, not an API answer: a route that set an error status
    // without a body keeps its status (so no Errc, whose status is fixed);
    // every route of authd/routes.cc answers through an Outcome instead.
    send_error(req, res, res.status, "error", "request failed");
  });
  server_.set_exception_handler([](const http::Request& req, http::Response& res) {
    // Called inside the route's catch (authd/http_server.cc), so the
    // exception in flight can be named. Its type goes to the log with the
    // request id; its text does not (what() may quote request data: a
    // JSON parser's error shows the bytes it read), nor is anything of it sent.
    log_event("error", "route_exception",
              {{"type", current_exception_type()}, {"path", req.path.substr(0, 256)}, {"request_id", request_id(req)}});
    send_error(req, res, Errc::kInternal, "internal error");
  });
  server_.set_logger([this](const http::Request& req, const http::Response& res) { log_request(req, res); });
}

std::string AuthServer::request_id(const http::Request& req) {
  std::string id = req.get_header_value("X-Request-Id");
  return is_request_id(id) ? id : std::string();
}

void AuthServer::send_error(const http::Request& req, http::Response& res, int status, const std::string& code,
                            const std::string& message, const nlohmann::json& extra) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  std::string body = core::error_envelope(code, message, request_id(req), unix_now());
  if (!extra.empty()) {
    // Fields beside code and message (max_age for a step-up).
    nlohmann::ordered_json j = nlohmann::ordered_json::parse(body);
    for (const auto& [k, v] : extra.items()) j["error"][k] = v;
    body = core::json_text(j);
  }
  res.set_content(body + "\n", "application/json");
}

void AuthServer::send_error(const http::Request& req, http::Response& res, Errc e, const std::string& message) {
  send_error(req, res, http_status(e), std::string(error_code(e)), message);
}

void AuthServer::log_request(const http::Request& req, const http::Response& res) {
  {
    std::lock_guard<std::mutex> lock(metrics_mu_);
    ++responses_by_status_[res.status];
  }
  // The path only: query strings can carry codes and tokens.
  log_event(res.status >= 500 && res.status != 503 ? "error" : res.status == 503 ? "warn" : "info", "request",
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
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (fd < 0 || socket_path.size() >= sizeof addr.sun_path) {
    if (fd >= 0) ::close(fd);
    err = "cannot listen on " + socket_path;
    return false;
  }
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  // Bound, its mode set, then listening (no one can connect before
  // listen): nginx (group) may connect, nobody else.
  bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  if (!bound || ::chmod(socket_path.c_str(), 0660) != 0 || ::listen(fd, SOMAXCONN) != 0) {
    err = "cannot listen on " + socket_path;
    ::close(fd);
    if (bound) ::unlink(socket_path.c_str());
    return false;
  }
  bool ok = server_.serve(fd);
  ::close(fd);
  ::unlink(socket_path.c_str());
  if (!ok) err = "server stopped with an error";
  return ok;
}

}  // namespace spa::authd
