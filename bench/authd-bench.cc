// spa-authd-bench: refresh rotations per second and login latency against
// a running spa-authd on its Unix socket.
//
//   spa-authd-bench SOCKET SECONDS CHAINS LOGINS
//
// Signs up CHAINS users, logs each in, then for SECONDS rotates each user's
// refresh token in a loop (one thread per chain, every rotation a durable
// LMDB commit). Then LOGINS sequential logins for the latency figures.
#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

httplib::Client client(const std::string& socket) {
  httplib::Client c(socket, 80);  // (host, port): the host is the socket path
  c.set_address_family(AF_UNIX);
  c.set_keep_alive(true);
  c.set_read_timeout(30, 0);
  return c;
}

json post(httplib::Client& c, const std::string& path, const json& body) {
  auto res = c.Post(path.c_str(), body.dump(), "application/json");
  // spa-authd answers one request per connection (Connection: close); a
  // request racing a close got no answer. Sending it again is safe: a
  // refresh repeated inside the grace window gets the same new pair.
  if (!res && (res.error() == httplib::Error::Write || res.error() == httplib::Error::Read ||
               res.error() == httplib::Error::Connection))
    res = c.Post(path.c_str(), body.dump(), "application/json");
  if (!res) return json{{"client_error", static_cast<int>(res.error())}};
  json j = json::parse(res->body, nullptr, false);
  return j.is_object() ? j : json::object();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: spa-authd-bench SOCKET SECONDS CHAINS LOGINS\n");
    return 2;
  }
  std::string socket = argv[1];
  int seconds = std::stoi(argv[2]), chains = std::stoi(argv[3]), logins = std::stoi(argv[4]);
  auto c = client(socket);
  std::vector<std::string> tokens;
  for (int i = 0; i < chains; ++i) {
    std::string email = "bench" + std::to_string(i) + "@example.com";
    post(c, "/api/v1/auth/signup", {{"email", email}, {"username", "bench" + std::to_string(i)}, {"password", "bench password " + email}});
    json r = post(c, "/api/v1/auth/login", {{"email", email}, {"password", "bench password " + email}});
    if (!r.value("success", false)) {
      std::fprintf(stderr, "login failed: %s\n", r.dump().c_str());
      return 1;
    }
    tokens.push_back(r["data"]["refresh_token"]);
  }
  std::atomic<long> rotations{0}, failures{0};
  auto end = Clock::now() + std::chrono::seconds(seconds);
  std::vector<std::thread> threads;
  for (int i = 0; i < chains; ++i)
    threads.emplace_back([&, i] {
      auto cl = client(socket);
      std::string token = tokens[i];
      while (Clock::now() < end) {
        json r = post(cl, "/api/v1/auth/refresh", {{"refresh_token", token}});
        if (!r.value("success", false)) {
          std::fprintf(stderr, "refresh failed: %s\n", r.dump().c_str());
          ++failures;
          return;
        }
        token = r["data"]["refresh_token"];
        ++rotations;
      }
    });
  auto start = Clock::now();
  for (auto& t : threads) t.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();

  std::vector<double> ms;
  for (int i = 0; i < logins; ++i) {
    auto t0 = Clock::now();
    json r = post(c, "/api/v1/auth/login", {{"email", "bench0@example.com"}, {"password", "bench password bench0@example.com"}});
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    if (!r.value("success", false)) {
      std::fprintf(stderr, "login failed: %s\n", r.dump().c_str());
      ++failures;
    }
  }
  std::sort(ms.begin(), ms.end());
  std::printf("refresh rotations/s        %10.0f   (%ld in %.1fs, %d chains)\n", rotations / elapsed, rotations.load(),
              elapsed, chains);
  std::printf("login p50 / p95 (ms)       %10.1f / %.1f   (%d logins)\n", ms[ms.size() / 2], ms[ms.size() * 95 / 100],
              logins);
  std::printf("failed requests            %10ld\n", failures.load());
  return failures == 0 ? 0 : 1;
}
