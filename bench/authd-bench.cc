// spa-authd-bench: refresh rotations per second and login throughput and
// latency against a running spa-authd on its Unix socket.
//
//   spa-authd-bench SOCKET SECONDS CHAINS LOGINS [LOGIN_SECONDS LOGIN_THREADS]
//
// Signs up CHAINS users, logs each in, then for SECONDS rotates each user's
// refresh token in a loop (one thread per chain, every rotation a durable
// LMDB commit). Then LOGINS sequential logins for the latency figures. With
// LOGIN_SECONDS > 0, then LOGIN_THREADS clients (each its own user, at most
// CHAINS) log in back to back for LOGIN_SECONDS: password logins per second
// while every Argon2 slot is kept busy. A login shed with 503 (the Argon2
// queue is full) is counted and asked again after 10 ms.
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

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5 && argc != 7) {
    std::fprintf(stderr, "usage: spa-authd-bench SOCKET SECONDS CHAINS LOGINS [LOGIN_SECONDS LOGIN_THREADS]\n");
    return 2;
  }
  std::string socket = argv[1];
  int seconds = std::stoi(argv[2]), chains = std::stoi(argv[3]), logins = std::stoi(argv[4]);
  int login_seconds = argc == 7 ? std::stoi(argv[5]) : 0;
  int login_threads = argc == 7 ? std::min(std::stoi(argv[6]), chains) : 0;
  auto c = client(socket);
  std::vector<std::string> tokens;
  for (int i = 0; i < chains; ++i) {
    post(c, "/api/v1/auth/signup", {{"email", email_of(i)}, {"username", "bench" + std::to_string(i)}, {"password", password_of(i)}});
    json r = post(c, "/api/v1/auth/login", {{"email", email_of(i)}, {"password", password_of(i)}});
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
      auto cl = client(socket);
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
        auto cl = client(socket);
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
