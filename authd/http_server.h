// spa-authd's HTTP/1.1 server: Boost.Beast's request parser over our own
// socket I/O, one request per connection (nginx connects per request), a
// fixed pool of worker threads. Beast parses and validates the head and
// nothing more; what authd accepts of it is authd/http_edge.h. The route
// interface (Get/Post/..., Request, Response) keeps cpp-httplib's shape.
#pragma once

#include <atomic>
#include <condition_variable>
#include <chrono>
#include <deque>
#include <functional>
#include <mutex>
#include <regex>
#include <string>
#include <utility>
#include <vector>

#include "authd/http_message.h"

namespace spa::authd::http {

using Handler = std::function<void(const Request&, Response&)>;
// Fills `res` with an error answer: the envelope, in spa-authd.
using ErrorSender = std::function<void(const Request&, Response&, int status, const std::string& code,
                                       const std::string& message)>;

struct ServerOptions {
  size_t worker_threads = 64;
  size_t max_queued = 1024;  // accepted connections waiting for a worker; more are refused with 503
  // The whole head and body must arrive within this, counted from accept:
  // time spent waiting for a worker counts (nginx sends a buffered request
  // at once; only a stalling peer needs more).
  int request_timeout_ms = 3000;
  int write_timeout_ms = 5000;
};

class Server {
 public:
  explicit Server(ServerOptions options = {}) : options_(options) {}

  // Patterns are matched against the whole path (std::regex_match); HEAD
  // is answered by the GET route, without the body.
  Server& Get(const std::string& pattern, Handler h) { return add("GET", pattern, std::move(h)); }
  Server& Post(const std::string& pattern, Handler h) { return add("POST", pattern, std::move(h)); }
  Server& Patch(const std::string& pattern, Handler h) { return add("PATCH", pattern, std::move(h)); }
  Server& Delete(const std::string& pattern, Handler h) { return add("DELETE", pattern, std::move(h)); }

  void set_error_sender(ErrorSender f) { send_error_ = std::move(f); }
  // Called for a route's answer of status >= 400 with no body.
  void set_error_handler(Handler f) { error_handler_ = std::move(f); }
  // A route threw; `res` is reset before the call.
  void set_exception_handler(Handler f) { exception_handler_ = std::move(f); }
  void set_logger(std::function<void(const Request&, const Response&)> f) { logger_ = std::move(f); }

  // Serves the bound, listening socket `fd` until stop(); requests already
  // accepted are answered before it returns. The caller closes `fd`.
  bool serve(int fd);
  void stop() { stopping_ = true; }

  // One connection: read a request, answer it, close; the head and body
  // must have arrived by `accepted_at` + request_timeout_ms. Public for tests.
  void handle_connection(int fd, std::chrono::steady_clock::time_point accepted_at = std::chrono::steady_clock::now());

 private:
  Server& add(const char* method, const std::string& pattern, Handler h);
  void route(Request& req, Response& res);
  void refuse(const Request& req, Response& res, int status, const std::string& code, const std::string& message);
  bool write_response(int fd, const Request& req, Response& res);
  void worker();

  ServerOptions options_;
  std::vector<std::pair<std::string, std::pair<std::regex, Handler>>> routes_;
  ErrorSender send_error_;
  Handler error_handler_, exception_handler_;
  std::function<void(const Request&, const Response&)> logger_;

  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::condition_variable cv_;
  struct Accepted {
    int fd;
    std::chrono::steady_clock::time_point at;
  };
  std::deque<Accepted> queue_;
  bool done_ = false;
};

}  // namespace spa::authd::http
