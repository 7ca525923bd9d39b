// spa-authd-bench: refresh rotations per second and login throughput and
// latency against a running spa-authd on its Unix socket.
//
//   spa-authd-bench SOCKET[,SOCKET...] SECONDS CHAINS LOGINS [LOGIN_SECONDS LOGIN_THREADS]
//   spa-authd-bench propagation SOCKET_A NGINX_B_PORT SAMPLES
//
// Signs up CHAINS users, logs each in, then for SECONDS rotates each user's
// refresh token in a loop (one thread per chain, every rotation a durable
// commit). Then LOGINS sequential logins for the latency figures. With
// several sockets (the spa-authd of each node of a cluster on one
// PostgreSQL, bench/cluster.pl), chain and login client i use socket
// i mod N; the sign-ups and sequential logins go to the first. With
// LOGIN_SECONDS > 0, then LOGIN_THREADS clients (each its own user, at most
// CHAINS) log in back to back for LOGIN_SECONDS: password logins per second
// while every Argon2 slot is kept busy. A login shed with 503 (the Argon2
// queue is full) is counted and asked again after 10 ms.
//
// propagation: SAMPLES times, a login on node A (SOCKET_A), its token
// checked at node B's nginx (GET /svc/t on NGINX_B_PORT, spa_auth on)
// until it passes, a logout on A, then B asked again and again until it
// refuses the token: the lag from A's answer to B's first 401.
//
// Besides the human lines it prints one tab-separated line per measure,
// "tsv\tNAME\tPER_SECOND\tP50_MS\tP99_MS\tCOUNT\tFAILED", for bench/all.sh.
#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

std::vector<std::string> split(const std::string& list) {
  std::vector<std::string> out;
  size_t at = 0;
  for (size_t comma; (comma = list.find(',', at)) != std::string::npos; at = comma + 1) out.push_back(list.substr(at, comma - at));
  out.push_back(list.substr(at));
  return out;
}

httplib::Client client(const std::string& socket) {
  httplib::Client c(socket, 80);  // (host, port): the host is the socket path
  c.set_address_family(AF_UNIX);
  c.set_keep_alive(true);
  c.set_read_timeout(30, 0);
  return c;
}

json post(httplib::Client& c, const std::string& path, const json& body, int* status = nullptr) {
  auto res = c.Post(path.c_str(), body.dump(), "application/json");
  // spa-authd answers one request per connection (Connection: close); a
  // request racing a close got no answer. Sending it again is safe: a
  // refresh repeated inside the grace window gets the same new pair.
  if (!res && (res.error() == httplib::Error::Write || res.error() == httplib::Error::Read ||
               res.error() == httplib::Error::Connection))
    res = c.Post(path.c_str(), body.dump(), "application/json");
  if (status) *status = res ? res->status : 0;
  if (!res) return json{{"client_error", static_cast<int>(res.error())}};
  json j = json::parse(res->body, nullptr, false);
  return j.is_object() ? j : json::object();
}

std::string email_of(int i) { return "bench" + std::to_string(i) + "@example.com"; }
std::string password_of(int i) { return "bench password " + email_of(i); }

double pct(std::vector<double>& ms, double p) {
  if (ms.empty()) return 0;
  std::sort(ms.begin(), ms.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(ms.size() - 1) + 0.5);
  return ms[std::min(i, ms.size() - 1)];
}

void tsv(const char* name, double per_second, std::vector<double>& ms, long failed) {
  std::printf("tsv\t%s\t%.1f\t%.3f\t%.3f\t%zu\t%ld\n", name, per_second, pct(ms, 0.50), pct(ms, 0.99), ms.size(),
              failed);
}

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

int propagation(const std::string& socket_a, int port_b, int samples) {
  auto a = client(socket_a);
  httplib::Client b("127.0.0.1", port_b);
  b.set_keep_alive(true);
  const json user = {{"email", "propagation@example.com"}, {"password", "bench propagation password"}};
  json signup = user;
  signup["username"] = "propagation";
  post(a, "/api/v1/auth/signup", signup);
  // B's answer for the token: 200, 401 or 0 (no answer).
  auto at_b = [&](const std::string& token) {
    auto r = b.Get("/svc/t", {{"Authorization", "Bearer " + token}});
    return r ? r->status : 0;
  };
  std::vector<double> lags, from_request;
  long failed = 0;
  for (int i = 0; i < samples; ++i) {
    json r = post(a, "/api/v1/auth/login", user);
    if (!r.value("success", false)) {
      std::fprintf(stderr, "login failed: %s\n", r.dump().c_str());
      return 1;
    }
    std::string access = r["data"]["access_token"], refresh = r["data"]["refresh_token"];
    auto t0 = Clock::now();
    while (at_b(access) != 200 && ms_since(t0) < 5000) {
    }
    if (at_b(access) != 200) {
      std::fprintf(stderr, "sample %d: B never accepted the new session\n", i);
      ++failed;
      continue;
    }
    auto sent = Clock::now();
    httplib::Headers h = {{"Authorization", "Bearer " + access}};
    auto out = a.Post("/api/v1/auth/logout", h, json{{"refresh_token", refresh}}.dump(), "application/json");
    if (!out || out->status != 200) {
      std::fprintf(stderr, "sample %d: logout answered %d\n", i, out ? out->status : 0);
      ++failed;
      continue;
    }
    auto answered = Clock::now();
    int status = 200;
    while ((status = at_b(access)) == 200 && ms_since(answered) < 5000) {
    }
    if (status != 401) {
      std::fprintf(stderr, "sample %d: B answered %d, 5 s after the logout\n", i, status);
      ++failed;
      continue;
    }
    lags.push_back(ms_since(answered));
    from_request.push_back(std::chrono::duration<double, std::milli>(Clock::now() - sent).count());
  }
  std::sort(lags.begin(), lags.end());
  double p50 = pct(lags, 0.50), p99 = pct(lags, 0.99), max = lags.empty() ? 0 : lags.back();
  std::printf("revocation on A refused at B's nginx, after A's answer: p50 %.2f ms, p99 %.2f ms, max %.2f ms (%zu samples)\n",
              p50, p99, max, lags.size());
  std::printf("the same from the logout's request:                   p50 %.2f ms, p99 %.2f ms\n", pct(from_request, 0.50),
              pct(from_request, 0.99));
  tsv("propagation", 0, lags, failed);
  return failed == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 5 && std::string(argv[1]) == "propagation")
    return propagation(argv[2], std::stoi(argv[3]), std::stoi(argv[4]));
  if (argc != 5 && argc != 7) {
    std::fprintf(stderr, "usage: spa-authd-bench SOCKET[,SOCKET...] SECONDS CHAINS LOGINS [LOGIN_SECONDS LOGIN_THREADS]\n"
                         "       spa-authd-bench propagation SOCKET_A NGINX_B_PORT SAMPLES\n");
    return 2;
  }
  const std::vector<std::string> sockets = split(argv[1]);
  const std::string& socket = sockets[0];
  int seconds = std::stoi(argv[2]), chains = std::stoi(argv[3]), logins = std::stoi(argv[4]);
  int login_seconds = argc == 7 ? std::stoi(argv[5]) : 0;
  int login_threads = argc == 7 ? std::min(std::stoi(argv[6]), chains) : 0;
  auto c = client(socket);
  std::vector<std::string> tokens;
  for (int i = 0; i < chains; ++i) {
    post(c, "/api/v1/auth/signup", {{"email", email_of(i)}, {"username", "bench" + std::to_string(i)}, {"password", password_of(i)}});
    auto at = client(sockets[i % sockets.size()]);
    json r = post(at, "/api/v1/auth/login", {{"email", email_of(i)}, {"password", password_of(i)}});
    if (!r.value("success", false)) {
      std::fprintf(stderr, "login failed: %s\n", r.dump().c_str());
      return 1;
    }
    tokens.push_back(r["data"]["refresh_token"]);
  }
  std::atomic<long> rotations{0}, failures{0};
  std::mutex mu;
  std::vector<double> rotation_ms;
  auto end = Clock::now() + std::chrono::seconds(seconds);
  std::vector<std::thread> threads;
  for (int i = 0; i < chains; ++i)
    threads.emplace_back([&, i] {
      auto cl = client(sockets[i % sockets.size()]);
      std::string token = tokens[i];
      std::vector<double> mine;
      while (Clock::now() < end) {
        auto t0 = Clock::now();
        json r = post(cl, "/api/v1/auth/refresh", {{"refresh_token", token}});
        if (!r.value("success", false)) {
          std::fprintf(stderr, "refresh failed: %s\n", r.dump().c_str());
          ++failures;
          break;
        }
        mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        token = r["data"]["refresh_token"];
        ++rotations;
      }
      std::lock_guard<std::mutex> lock(mu);
      rotation_ms.insert(rotation_ms.end(), mine.begin(), mine.end());
    });
  auto start = Clock::now();
  for (auto& t : threads) t.join();
  double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  threads.clear();
  long rotation_failures = failures.load();

  std::vector<double> ms;
  for (int i = 0; i < logins; ++i) {
    auto t0 = Clock::now();
    json r = post(c, "/api/v1/auth/login", {{"email", email_of(0)}, {"password", password_of(0)}});
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    if (!r.value("success", false)) {
      std::fprintf(stderr, "login failed: %s\n", r.dump().c_str());
      ++failures;
    }
  }
  std::vector<double> sequential = ms;
  std::printf("refresh rotations/s        %10.0f   (%ld in %.1fs, %d chains)\n", rotations / elapsed, rotations.load(),
              elapsed, chains);
  std::printf("login p50 / p95 (ms)       %10.1f / %.1f   (%d logins)\n", pct(ms, 0.50), pct(ms, 0.95), logins);

  std::vector<double> login_ms;
  std::atomic<long> logged_in{0}, shed{0}, login_failures{0};
  double login_elapsed = 0;
  if (login_seconds > 0 && login_threads > 0) {
    auto login_end = Clock::now() + std::chrono::seconds(login_seconds);
    for (int i = 0; i < login_threads; ++i)
      threads.emplace_back([&, i] {
        auto cl = client(sockets[i % sockets.size()]);
        std::vector<double> mine;
        while (Clock::now() < login_end) {
          auto t0 = Clock::now();
          int status = 0;
          json r = post(cl, "/api/v1/auth/login", {{"email", email_of(i)}, {"password", password_of(i)}}, &status);
          if (r.value("success", false)) {
            mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
            ++logged_in;
          } else if (status == 503) {
            ++shed;
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
          } else {
            std::fprintf(stderr, "login failed (%d): %s\n", status, r.dump().c_str());
            ++login_failures;
            break;
          }
        }
        std::lock_guard<std::mutex> lock(mu);
        login_ms.insert(login_ms.end(), mine.begin(), mine.end());
      });
    auto login_start = Clock::now();
    for (auto& t : threads) t.join();
    login_elapsed = std::chrono::duration<double>(Clock::now() - login_start).count();
    std::printf("password logins/s          %10.1f   (%ld in %.1fs, %d clients, %ld shed with 503)\n",
                logged_in / login_elapsed, logged_in.load(), login_elapsed, login_threads, shed.load());
    failures += login_failures.load();
  }
  std::printf("failed requests            %10ld\n", failures.load());
  tsv("refresh", rotations / elapsed, rotation_ms, rotation_failures);
  tsv("login_sequential", sequential.empty() ? 0 : 1000.0 / pct(sequential, 0.50), sequential,
      failures.load() - rotation_failures - login_failures.load());
  if (login_elapsed > 0) tsv("login", logged_in / login_elapsed, login_ms, login_failures.load());
  return failures == 0 ? 0 : 1;
}
