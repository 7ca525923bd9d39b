// spa-demo-echo: the demo microservice for `make run`. Answers every GET (and POST)
// with the JSON envelope and the X-User-* headers nginx sent it, so you can
// see what a real service behind spa-auth receives.
//
//   spa-demo-echo [--listen 127.0.0.1] [--port 9101]
#include <httplib.h>

#include <csignal>
#include <cstdio>
#include <ctime>
#include <string>

#include <nlohmann/json.hpp>

namespace {

httplib::Server* g_server = nullptr;

std::string utc_now() {
  char buf[32];
  std::time_t t = std::time(nullptr);
  std::tm tm;
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

void echo(const httplib::Request& req, httplib::Response& res) {
  nlohmann::json user = nlohmann::json::object();
  for (const auto& [name, value] : req.headers) {
    if (name.size() > 7 && strncasecmp(name.c_str(), "x-user-", 7) == 0) user[name] = value;
  }
  std::string greeting = user.contains("X-User-Email") ? "hello, " + user["X-User-Email"].get<std::string>()
                                                        : std::string("hello");
  // What else arrived that could carry a credential, by name only (the
  // Authorization header, cookie names) and the query: a test, or a
  // curious developer, can see that no token travels past nginx.
  nlohmann::json carried = nlohmann::json::array();
  for (const auto& [name, value] : req.headers) {
    if (strcasecmp(name.c_str(), "authorization") == 0) carried.push_back("Authorization");
    if (strcasecmp(name.c_str(), "cookie") != 0) continue;
    size_t pos = 0;
    while (pos < value.size()) {
      size_t end = value.find(';', pos);
      if (end == std::string::npos) end = value.size();
      std::string pair = value.substr(pos, end - pos);
      size_t first = pair.find_first_not_of(' ');
      if (first != std::string::npos) carried.push_back("cookie " + pair.substr(first, pair.find('=') - first));
      pos = end + 1;
    }
  }
  size_t q = req.target.find('?');
  std::string query = q == std::string::npos ? "" : req.target.substr(q + 1);
  nlohmann::json body = {
      {"success", true},
      {"data", {{"service", "demo"}, {"path", req.path}, {"greeting", greeting}, {"identity_headers", user},
                {"credential_headers", carried}, {"query", query}}},
      {"meta", {{"timestamp", utc_now()}, {"version", "v1"}, {"requestId", req.get_header_value("X-Request-Id")}}},
  };
  res.set_content(body.dump(2) + "\n", "application/json");
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  int port = 9101;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--listen") host = argv[i + 1];
    else if (a == "--port") port = std::stoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "usage: spa-demo-echo [--listen ADDR] [--port N]\n");
      return 2;
    }
  }
  httplib::Server server;
  g_server = &server;
  std::signal(SIGTERM, [](int) { if (g_server) g_server->stop(); });
  std::signal(SIGINT, [](int) { if (g_server) g_server->stop(); });
  server.Get(".*", echo);
  server.Post(".*", echo);  // unsafe requests too, for the CSRF check in front of it
  std::printf("spa-demo-echo listening on %s:%d\n", host.c_str(), port);
  std::fflush(stdout);
  return server.listen(host.c_str(), port) ? 0 : 1;
}
