// The HTTP side of spa-authd: authd/http_server.h on a Unix socket, with
// bounds, the JSON envelope for errors, and one JSON log line per request.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "authd/errors.h"
#include "authd/http_server.h"

namespace spa::authd {

class AuthServer {
 public:
  // Pool threads for quick requests, beyond those slow work may hold.
  static constexpr size_t kQuickThreads = 64;

  // `slow_threads`: the most pool threads slow work can hold at once (the
  // Argon2 queue, provider calls; docs/authd.md "Concurrency"); the pool
  // has kQuickThreads more.
  explicit AuthServer(size_t slow_threads = 0);

  http::Server& http() { return server_; }

  // Binds the socket (replacing a stale one), sets its mode, serves until
  // stop(); removes the socket on the way out.
  bool serve(const std::string& socket_path, std::string& err);
  void stop() { server_.stop(); }

  // Prometheus text for /metrics.
  std::string metrics() const;

  static std::string request_id(const http::Request& req);
  static void send_error(const http::Request& req, http::Response& res, int status, const std::string& code,
                         const std::string& message, const nlohmann::json& extra = nlohmann::json::object());
  // The same, with the status and code of `e` (authd/errors.cc).
  static void send_error(const http::Request& req, http::Response& res, Errc e, const std::string& message);

 private:
  void log_request(const http::Request& req, const http::Response& res);

  http::Server server_;
  mutable std::mutex metrics_mu_;
  std::map<int, uint64_t> responses_by_status_;
};

// One JSON object per line on stdout (journald keeps it). Never pass it a
// secret: callers log names, ids and outcomes only.
void log_event(const std::string& level, const std::string& event, const std::map<std::string, std::string>& fields);

}  // namespace spa::authd
