#include "authd/http_server.h"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <strings.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <limits>
#include <thread>

#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>

#include "authd/http_edge.h"

namespace spa::authd::http {
namespace {

namespace beast = boost::beast;
using Clock = std::chrono::steady_clock;

const char* reason(int status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 303: return "See Other";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 423: return "Locked";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "";
  }
}

int ms_left(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

enum class ReadResult { kData, kClosed, kTimeout };

// Appends what the peer sent next, waiting until `deadline`.
ReadResult read_some(int fd, std::string& buf, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, ms_left(deadline));
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) return ReadResult::kTimeout;
    if (r < 0) return ReadResult::kClosed;
    char chunk[16384];
    ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return ReadResult::kClosed;
    buf.append(chunk, static_cast<size_t>(n));
    return ReadResult::kData;
  }
}

// After an answer given before the whole request was read: the peer (nginx)
// may still be writing the body, and a close now would make its write fail
// and turn our answer into its 502. Read and discard while it keeps sending:
// at most 1 MiB and 2 s, and stop after 200 ms of silence. Nothing read here
// is kept or parsed.
void drain(int fd) {
  auto deadline = Clock::now() + std::chrono::seconds(2);
  size_t total = 0;
  char chunk[16384];
  while (total < (1u << 20)) {
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, std::min(200, ms_left(deadline)));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return;
    ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return;
    total += static_cast<size_t>(n);
  }
}

bool write_all(int fd, const std::string& data, Clock::time_point deadline) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      off += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno != EAGAIN && errno != EINTR) return false;
    pollfd p{fd, POLLOUT, 0};
    if (::poll(&p, 1, ms_left(deadline)) <= 0 && errno != EINTR) return false;
  }
  return true;
}

// Framing is ours to write, never a route's.
bool framing_field(const std::string& name) {
  for (const char* f : {"Content-Length", "Connection", "Transfer-Encoding", "Keep-Alive"})
    if (strcasecmp(name.c_str(), f) == 0) return true;
  return false;
}

}  // namespace

Server& Server::add(const char* method, const std::string& pattern, Handler h) {
  routes_.emplace_back(method, std::make_pair(std::regex(pattern), std::move(h)));
  return *this;
}

void Server::refuse(const Request& req, Response& res, int status, const std::string& code,
                    const std::string& message) {
  res = Response();
  res.status = status;
  if (status == 405) res.set_header("Allow", "GET, HEAD, POST, PATCH, DELETE");
  // RFC 9110 §15.5.16: name the codings that would have been accepted.
  if (status == 415 && req.has_header("Content-Encoding")) res.set_header("Accept-Encoding", "identity");
  if (send_error_) send_error_(req, res, status, code, message);
}

void Server::route(Request& req, Response& res) {
  const std::string method = req.method == "HEAD" ? "GET" : req.method;
  for (const auto& [m, route] : routes_) {
    if (m != method || !std::regex_match(req.path, req.matches, route.first)) continue;
    try {
      route.second(req, res);
    } catch (...) {
      // Still inside the catch, so that the handler can name the exception
      // in flight (std::current_exception); its text goes nowhere.
      res = Response();
      res.status = 500;
      if (exception_handler_) exception_handler_(req, res);
    }
    if (res.status == -1) res.status = 200;
    if (res.status >= 400 && res.body.empty() && error_handler_) error_handler_(req, res);
    return;
  }
  refuse(req, res, 404, "not_found", "no such endpoint");
}

bool Server::write_response(int fd, const Request& req, Response& res) {
  bool bodiless = res.status == 204 || res.status == 304 || (res.status >= 100 && res.status < 200);
  std::string out = "HTTP/1.1 " + std::to_string(res.status) + " " + reason(res.status) + "\r\n";
  for (const auto& [k, v] : res.headers) {
    if (framing_field(k)) continue;
    out += k + ": " + v + "\r\n";
  }
  if (!bodiless) out += "Content-Length: " + std::to_string(res.body.size()) + "\r\n";
  // One request per connection: nothing after it is ever read as another.
  out += "Connection: close\r\n\r\n";
  if (!bodiless && req.method != "HEAD") out += res.body;
  return write_all(fd, out, Clock::now() + std::chrono::milliseconds(options_.write_timeout_ms));
}

void Server::handle_connection(int fd, Clock::time_point accepted_at) {
  Request req;
  Response res;
  // From accept: a connection that waited in the queue past it is served
  // only if its request is already there (the reads below poll without
  // waiting), so idle connections cannot stall the queue behind them.
  auto deadline = accepted_at + std::chrono::milliseconds(options_.request_timeout_ms);
  bool body_unread = false;  // the head is answered before its body was read
  auto answer = [&] {
    write_response(fd, req, res);
    if (logger_) logger_(req, res);
    ::shutdown(fd, SHUT_WR);
    if (body_unread) drain(fd);
    ::close(fd);
  };

  // The head, through Beast's parser: request line and fields, CRLF only,
  // tokens and field values checked, at most kMaxHeadBytes; nothing decoded.
  beast::http::request_parser<beast::http::empty_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(kMaxHeadBytes));
  // The body's bound is the edge's (413 on the head, then drained), not
  // Beast's own 1 MiB default (a plain 400, undrained).
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  std::string buf;
  size_t used = 0;
  beast::error_code ec;
  while (!parser.is_header_done()) {
    if (buf.size() > used) {
      used += parser.put(boost::asio::buffer(buf.data() + used, buf.size() - used), ec);
      if (ec == beast::http::error::need_more) ec = {};
      if (ec || parser.is_header_done()) break;
    }
    if (buf.size() > kMaxHeadBytes + 1) {
      ec = beast::http::error::header_limit;
      break;
    }
    auto got = read_some(fd, buf, deadline);
    if (got == ReadResult::kClosed || (got == ReadResult::kTimeout && buf.empty())) {
      ::close(fd);  // nothing to answer, or no one to answer
      return;
    }
    if (got == ReadResult::kTimeout) {
      refuse(req, res, 408, "request_timeout", "the request did not arrive in time");
      return answer();
    }
  }
  if (ec) {
    if (ec == beast::http::error::header_limit)
      refuse(req, res, 431, "request_header_fields_too_large", "request header too large");
    else if (ec == beast::http::error::bad_version)
      refuse(req, res, 505, "http_version_not_supported", "HTTP version not supported");
    else
      refuse(req, res, 400, "invalid_request", "malformed request");
    return answer();
  }

  const auto& head = parser.get();
  req.method = std::string(head.method_string());
  req.target = std::string(head.target());
  req.version = head.version() == 10 ? "HTTP/1.0" : head.version() == 11 ? "HTTP/1.1" : "";
  for (const auto& field : head) req.headers.emplace(std::string(field.name_string()), std::string(field.value()));

  size_t length = 0;
  bool expect_continue = false;
  if (auto refusal = check_request_head(req, length, expect_continue)) {
    body_unread = req.has_header("Content-Length") || req.has_header("Transfer-Encoding");
    refuse(req, res, refusal->status, refusal->code, refusal->message);
    return answer();
  }
  if (expect_continue && buf.size() == used &&
      !write_all(fd, "HTTP/1.1 100 Continue\r\n\r\n", Clock::now() + std::chrono::milliseconds(options_.write_timeout_ms))) {
    ::close(fd);
    return;
  }
  // The body: exactly Content-Length bytes. Bytes after it are never read.
  while (buf.size() - used < length) {
    auto got = read_some(fd, buf, deadline);
    if (got == ReadResult::kClosed) {
      ::close(fd);
      return;
    }
    if (got == ReadResult::kTimeout) {
      refuse(req, res, 408, "request_timeout", "the request body did not arrive in time");
      return answer();
    }
  }
  req.body = buf.substr(used, length);
  buf.clear();
  route(req, res);
  answer();
}

void Server::worker() {
  for (;;) {
    Accepted a;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return !queue_.empty() || done_; });
      if (queue_.empty()) return;
      a = queue_.front();
      queue_.pop_front();
    }
    handle_connection(a.fd, a.at);
  }
}

bool Server::serve(int listen_fd) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = false;
  }
  std::vector<std::thread> workers;
  for (size_t i = 0; i < options_.worker_threads; ++i) workers.emplace_back(&Server::worker, this);
  bool ok = true;
  while (!stopping_) {
    pollfd p{listen_fd, POLLIN, 0};
    int r = ::poll(&p, 1, 100);  // stop() is seen within 100 ms
    if (r == 0 || (r < 0 && errno == EINTR)) continue;
    if (r < 0) {
      ok = false;
      break;
    }
    int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE) std::this_thread::sleep_for(std::chrono::milliseconds(1));
      if (errno == EINTR || errno == EAGAIN || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE) continue;
      ok = false;
      break;
    }
    std::unique_lock<std::mutex> lock(mu_);
    if (queue_.size() >= options_.max_queued) {
      lock.unlock();
      Request req;
      Response res;
      refuse(req, res, 503, "overloaded", "too many requests are waiting; try again");
      write_response(fd, req, res);
      if (logger_) logger_(req, res);  // logged and counted like any answer
      ::close(fd);
      continue;
    }
    queue_.push_back({fd, Clock::now()});
    lock.unlock();
    cv_.notify_one();
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers) t.join();
  return ok;
}

}  // namespace spa::authd::http
