// spa-authd-load-bench: latency of quick requests with and without slow
// work in flight (bench/authd-load.sh).
//
//   spa-authd-load-bench SOCKET NGINX_PORT PROVIDER SAMPLES SECONDS LOGINS CALLBACKS
//
// Measures p50/p99 of refresh, logout, /me (spa-authd on SOCKET) and of the
// module's token check through nginx (GET /protected/f.txt on NGINX_PORT),
// SAMPLES of each, one request at a time over SECONDS, first unloaded,
// then (as long again) while LOGINS clients each
// keep a login in flight and CALLBACKS clients each keep an OAuth callback
// in flight to PROVIDER, whose token endpoint never answers. Clients that
// are shed wait the Retry-After they are given (BENCH_IGNORE_RETRY_AFTER=1:
// they ask again at once). Prints the p99 ratios loaded / unloaded.
#include <httplib.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

namespace {

using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

std::string g_socket;
int g_port = 0;

// A new connection per request, as nginx makes them.
std::unique_ptr<httplib::Client> authd() {
  auto c = std::make_unique<httplib::Client>(g_socket, 80);
  c->set_address_family(AF_UNIX);
  c->set_keep_alive(false);
  c->set_read_timeout(120, 0);
  return c;
}

json body_of(const httplib::Result& r) {
  if (!r) return json::object();
  json j = json::parse(r->body, nullptr, false);
  return j.is_object() ? j : json::object();
}

httplib::Result post(const std::string& path, const json& body, const httplib::Headers& h = {}) {
  return authd()->Post(path.c_str(), h, body.dump(), "application/json");
}

struct Session {
  std::string access, refresh;
};

Session login(const std::string& email, const std::string& password) {
  for (;;) {
    auto r = post("/api/v1/auth/login", {{"email", email}, {"password", password}});
    json j = body_of(r);
    if (r && r->status == 200) return {j["data"]["access_token"], j["data"]["refresh_token"]};
    if (r && r->status == 503) continue;
    std::fprintf(stderr, "login failed: %s\n", r ? r->body.c_str() : "no answer");
    std::exit(1);
  }
}

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

struct Samples {
  std::map<std::string, std::vector<double>> ms;
  long failures = 0;
};

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::clamp<size_t>(i, 1, v.size()) - 1];
}

// One request of each kind per round, one at a time, rounds spread over
// `seconds`: latency, not throughput.
Samples measure(int rounds, int seconds, Session& chain, const std::string& access, std::vector<Session>& to_end) {
  auto start = Clock::now();
  Samples s;
  httplib::Client nginx("127.0.0.1", g_port);
  nginx.set_keep_alive(false);
  for (int i = 0; i < rounds; ++i) {
    auto t0 = Clock::now();
    auto r = post("/api/v1/auth/refresh", {{"refresh_token", chain.refresh}});
    s.ms["refresh"].push_back(ms_since(t0));
    json j = body_of(r);
    if (r && r->status == 200) chain.refresh = j["data"]["refresh_token"];
    else ++s.failures;

    t0 = Clock::now();
    r = authd()->Get("/api/v1/auth/me", {{"Authorization", "Bearer " + access}});
    s.ms["me"].push_back(ms_since(t0));
    if (!r || r->status != 200) ++s.failures;

    Session end = to_end.back();
    to_end.pop_back();
    t0 = Clock::now();
    r = post("/api/v1/auth/logout", {{"refresh_token", end.refresh}}, {{"Authorization", "Bearer " + end.access}});
    s.ms["logout"].push_back(ms_since(t0));
    if (!r || r->status != 200) ++s.failures;

    t0 = Clock::now();
    r = nginx.Get("/protected/f.txt", {{"Authorization", "Bearer " + access}});
    s.ms["verify (module)"].push_back(ms_since(t0));
    if (!r || r->status != 200) ++s.failures;
    std::this_thread::sleep_until(start + std::chrono::milliseconds(int64_t{1000} * seconds * (i + 1) / rounds));
  }
  return s;
}

std::string query_value(const std::string& url, const std::string& name) {
  size_t at = url.find(name + "=");
  if (at == std::string::npos) return {};
  at += name.size() + 1;
  return url.substr(at, url.find('&', at) - at);
}

std::string metric(const std::string& text, const std::string& name) {
  size_t at = text.find("\n" + name + " ");
  if (at == std::string::npos) return {};
  at += name.size() + 2;
  return text.substr(at, text.find('\n', at) - at);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 8) {
    std::fprintf(stderr, "usage: spa-authd-load-bench SOCKET NGINX_PORT PROVIDER SAMPLES SECONDS LOGINS CALLBACKS\n");
    return 2;
  }
  g_socket = argv[1];
  g_port = std::stoi(argv[2]);
  std::string provider = argv[3];
  int samples = std::stoi(argv[4]), seconds = std::stoi(argv[5]), logins = std::stoi(argv[6]),
      callbacks = std::stoi(argv[7]);
  bool honour = std::getenv("BENCH_IGNORE_RETRY_AFTER") == nullptr;

  const std::string email = "load@example.com", password = "load bench password 1";
  post("/api/v1/auth/signup", {{"email", email}, {"username", "load"}, {"password", password}});
  std::printf("==> %d sessions to log out, one login each\n", 2 * samples + 2);
  std::fflush(stdout);
  Session chain = login(email, password), reader = login(email, password);
  std::vector<Session> to_end;
  for (int i = 0; i < 2 * samples; ++i) to_end.push_back(login(email, password));

  std::printf("==> unloaded: %d rounds of refresh, /me, logout, module verify in %ds\n", samples, seconds);
  std::fflush(stdout);
  Samples idle = measure(samples, seconds, chain, reader.access, to_end);

  std::atomic<bool> stop{false};
  std::atomic<long> logged_in{0}, login_shed{0}, login_other{0}, cb_shed{0}, cb_ended{0}, cb_other{0};
  auto pause = [&](const httplib::Result& r) {
    long s = r ? std::atol(r->get_header_value("Retry-After").c_str()) : 1;
    if (!honour) return;
    for (long i = 0; i < 10 * std::max(1L, s) && !stop; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(100));
  };
  std::vector<std::thread> load;
  for (int i = 0; i < logins; ++i)
    load.emplace_back([&] {
      while (!stop) {
        auto r = post("/api/v1/auth/login", {{"email", email}, {"password", password}});
        if (r && r->status == 200) ++logged_in;
        else if (r && r->status == 503) ++login_shed, pause(r);
        else ++login_other;
      }
    });
  for (int i = 0; i < callbacks; ++i)
    load.emplace_back([&] {
      while (!stop) {
        auto start = authd()->Get(("/api/v1/oauth/" + provider + "/start").c_str());
        if (start && start->status == 503) {  // the first fetch of discovery is still under way
          ++cb_shed;
          pause(start);
          continue;
        }
        if (!start || start->status != 303) {
          ++cb_other;
          std::this_thread::sleep_for(std::chrono::milliseconds(100));
          continue;
        }
        std::string state = query_value(start->get_header_value("Location"), "state");
        std::string cookie = start->get_header_value("Set-Cookie");
        cookie = cookie.substr(0, cookie.find(';'));
        // A shed callback keeps its state: the same one is sent again.
        while (!stop) {
          auto r = authd()->Get(("/api/v1/oauth/" + provider + "/callback?code=x&state=" + state).c_str(),
                                {{"Cookie", cookie}});
          if (r && r->status == 503) {
            ++cb_shed;
            pause(r);
            continue;
          }
          if (r && r->status == 303) ++cb_ended;
          else ++cb_other, std::fprintf(stderr, "callback: %d %s\n", r ? r->status : -1, r ? r->body.c_str() : "");
          break;
        }
      }
    });

  // Loaded once the provider holds every call it may and logins wait (a
  // spa-authd without these metrics or without shedding: after 20 s).
  auto metrics = [] {
    auto r = authd()->Get("/metrics");
    return r ? r->body : std::string();
  };
  std::string m;
  for (auto until = Clock::now() + std::chrono::seconds(20); Clock::now() < until;) {
    m = metrics();
    std::string calls = metric(m, "spa_authd_provider_calls{provider=\"" + provider + "\"}");
    std::string waiting = metric(m, "spa_authd_argon2_waiting");
    if (!calls.empty() && calls != "0" && !waiting.empty() && waiting != "0" && login_shed > 0 && cb_shed > 0) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::printf("==> loaded: %d clients keeping a login in flight, %d an OAuth callback to a provider that never answers\n"
              "    (provider calls in flight %s, Argon2 running %s, waiting %s)\n",
              logins, callbacks, metric(m, "spa_authd_provider_calls{provider=\"" + provider + "\"}").c_str(),
              metric(m, "spa_authd_argon2_running").c_str(), metric(m, "spa_authd_argon2_waiting").c_str());
  std::fflush(stdout);
  auto t0 = Clock::now();
  Samples busy = measure(samples, seconds, chain, reader.access, to_end);
  double loaded_s = ms_since(t0) / 1000;
  m = metrics();
  std::string calls_at_end = metric(m, "spa_authd_provider_calls{provider=\"" + provider + "\"}");
  stop = true;
  for (auto& t : load) t.join();

  std::printf("\n%-18s %10s %10s %10s %10s %12s\n", "request", "idle p50", "idle p99", "load p50", "load p99",
              "p99 ratio");
  for (const auto& [name, v] : idle.ms) {
    const auto& w = busy.ms[name];
    std::printf("%-18s %8.2fms %8.2fms %8.2fms %8.2fms %12.2f\n", name.c_str(), percentile(v, 0.5),
                percentile(v, 0.99), percentile(w, 0.5), percentile(w, 0.99), percentile(w, 0.99) / percentile(v, 0.99));
  }
  std::printf("\nloaded %.1fs, until the clients stopped: logins %ld signed in, %ld shed (503 server_busy), %ld other;\n"
              "callbacks and starts %ld shed (503 provider_busy), %ld ended (timed out at the provider), %ld other;\n"
              "provider calls in flight at the end %s; %s Retry-After\n",
              loaded_s, logged_in.load(), login_shed.load(), login_other.load(), cb_shed.load(), cb_ended.load(),
              cb_other.load(), calls_at_end.c_str(), honour ? "clients honoured" : "clients ignored");
  std::printf("failed quick requests: %ld unloaded, %ld loaded\n", idle.failures, busy.failures);
  return idle.failures + busy.failures == 0 ? 0 : 1;
}
