// spa-authd's request handling: one HTTP request with any method, target,
// headers and body, through the real connection handler (Beast's parser,
// authd/http_edge.h), the route table and the services over a temporary
// store — the whole of spa-authd but its socket and its network.
//
// The input is text: the first line is "METHOD TARGET", the lines up to an
// empty one are header lines, the rest is the body. A Content-Length is
// added unless the input brings its own framing. "@A@", "@R@", "@S@",
// "@U@" and "@O@" become the seeded user's access token, refresh token,
// session id, user id and the allowed Origin, so the mutator reaches what
// lies behind a valid session. The seeded user is an administrator.
//
// Properties: every request gets exactly one HTTP/1.1 answer; no answer is
// 500 (an exception in a route or a store failure on a healthy store);
// every error with a body is the JSON envelope; a redirect stays on the
// site (a relative path); nothing answers with the seeded password.
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "authd/auth_service.h"
#include "authd/crypto.h"
#include "authd/files.h"
#include "authd/http_client.h"
#include "authd/lmdb_store.h"
#include "authd/mailer.h"
#include "authd/oauth.h"
#include "authd/passwords.h"
#include "authd/routes.h"
#include "authd/server.h"
#include "authd/signing_keys.h"
#include "tests/fuzz/fuzz.h"

using namespace spa::authd;

namespace {

constexpr const char* kPassword = "correct horse battery staple";
constexpr const char* kOrigin = "https://app.example.com";
// A fresh world after this many requests: the store stays small, and what
// one input did is undone before long (a crash replays on a fresh world).
constexpr int kRequestsPerWorld = 2000;

struct NoMail final : MailSender {
  bool send(const std::string&, const std::string&, const std::string&, MailClass) override { return true; }
};

// Every provider is unreachable: the OAuth routes answer from their own
// checks and their network-failure path.
struct NoNetwork final : HttpClient {
  HttpResult get(const std::string&, const std::vector<std::string>&) override { return {0, "", "no network"}; }
  HttpResult post_form(const std::string&, const std::string&, const std::vector<std::string>&) override {
    return {0, "", "no network"};
  }
};

struct World {
  std::string dir;
  Config config;
  LmdbStore store;
  std::unique_ptr<SigningKeys> keys;
  // Argon2's smallest parameters: the fuzzer is here for the parsing, not
  // the hashing.
  PasswordHasher hasher{8, 1, 1, {0, 1000}};
  int64_t now = 1'800'000'000;
  std::unique_ptr<AuthService> service;
  NoMail mail;
  NoNetwork network;
  std::unique_ptr<OAuthLogin> oauth;
  std::unique_ptr<AuthServer> server;
  std::string access, refresh, sid, uid;

  World() {
    char tmpl[] = "/tmp/spa-fuzz-authd-XXXXXX";
    FUZZ_CHECK(mkdtemp(tmpl) != nullptr);
    dir = tmpl;
    config.issuer = kOrigin;
    config.mode = TokenMode::kBoth;
    config.allowed_origins = {kOrigin};
    config.require_verified_email = false;
    config.admin_require_mfa = false;
    config.key_dir = dir + "/keys";
    config.jwks_file = dir + "/jwks.json";
    OAuthProviderConfig p;
    p.name = "corp";
    p.client_id = "client-1";
    p.client_secret_file = dir + "/secret";
    p.redirect_uri = std::string(kOrigin) + "/api/v1/oauth/corp/callback";
    p.discovery = "https://idp.example.com/.well-known/openid-configuration";
    p.allowed_redirects = {"/account"};
    config.oauth.push_back(p);
    std::string err;
    FUZZ_CHECK(write_file_atomic(p.client_secret_file, "s3cret\n", 0600, err));
    FUZZ_CHECK(store.open(dir + "/store", err, uint64_t{64} << 20));
    keys = std::make_unique<SigningKeys>(
        SigningKeys::Options{config.key_dir, config.jwks_file, config.algorithm, config.access_ttl, 5});
    FUZZ_CHECK(keys->open(now, err));
    service = std::make_unique<AuthService>(config, store, *keys, hasher, [this] { return now; }, random_bytes(32));
    service->set_mailer(&mail);
    oauth = std::make_unique<OAuthLogin>(config, *service, store, network, [this] { return now; });
    FUZZ_CHECK(oauth->load_secrets(err));
    server = std::make_unique<AuthServer>();
    register_routes(*server, *service, *oauth, config, {[this] { return server->metrics(); }});

    ClientInfo client{"seed", "192.0.2.7", "fuzz"};
    FUZZ_CHECK(service->signup("fuzz@example.com", "fuzz", kPassword, client).ok());
    FUZZ_CHECK(service->set_role("fuzz@example.com", "admin").ok());
    Outcome login = service->login("fuzz@example.com", kPassword, client);
    FUZZ_CHECK(login.ok() && login.tokens);
    access = login.tokens->access_token;
    refresh = login.tokens->refresh_token;
    sid = login.data.value("session_id", "");
    uid = login.data["user"].value("id", "");
  }
  ~World() { std::system(("rm -rf '" + dir + "'").c_str()); }
};

std::unique_ptr<World> world;
int requests = 0;

void replace_all(std::string& s, const std::string& what, const std::string& with) {
  for (size_t at = 0; (at = s.find(what, at)) != std::string::npos; at += with.size()) s.replace(at, what.size(), with);
}

bool has_header(std::string_view head, std::string_view name) {
  for (std::string_view line : fuzz::lines_of(head)) {
    if (line.size() < name.size() || line[name.size()] != ':') continue;
    bool same = true;
    for (size_t i = 0; i < name.size() && same; ++i) same = std::tolower(line[i]) == std::tolower(name[i]);
    if (same) return true;
  }
  return false;
}

// The request the input describes, in HTTP/1.1 framing.
std::string request_of(std::string text, const World& w) {
  replace_all(text, "@A@", w.access);
  replace_all(text, "@R@", w.refresh);
  replace_all(text, "@S@", w.sid);
  replace_all(text, "@U@", w.uid);
  replace_all(text, "@O@", kOrigin);
  size_t line_end = text.find('\n');
  std::string request_line = text.substr(0, line_end);
  std::string rest = line_end == std::string::npos ? "" : text.substr(line_end + 1);
  size_t blank = rest.find("\n\n");
  std::string head = blank == std::string::npos ? rest : rest.substr(0, blank);
  std::string body = blank == std::string::npos ? "" : rest.substr(blank + 2);
  std::string out = request_line + " HTTP/1.1\r\nHost: authd\r\n";
  if (!head.empty())
    for (std::string_view line : fuzz::lines_of(head)) out.append(line).append("\r\n");
  if (!has_header(head, "Content-Length") && !has_header(head, "Transfer-Encoding"))
    out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  return out + "\r\n" + body;
}

// One exchange over a socket pair, as nginx would make it.
std::string one_exchange(http::Server& server, const std::string& request) {
  int sv[2];
  FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
  // The request fits the socket's buffer (libFuzzer's -max_len bounds it);
  // what does not fit is cut, as a peer that stops writing would be.
  int size = 1 << 20;
  setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  ssize_t sent = send(sv[1], request.data(), request.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  FUZZ_CHECK(sent >= 0);
  shutdown(sv[1], SHUT_WR);
  server.handle_connection(sv[0]);
  std::string got;
  char buf[8192];
  for (ssize_t n; (n = read(sv[1], buf, sizeof buf)) > 0;) got.append(buf, static_cast<size_t>(n));
  close(sv[1]);
  return got;
}

void check_answer(const std::string& answer) {
  // Exactly one answer (the connection closes after it: "Connection: close"
  // or not, the handler serves one request per call here as the peer shut
  // its side).
  FUZZ_CHECK(answer.rfind("HTTP/1.1 ", 0) == 0 && answer.size() >= 12);
  int status = std::atoi(answer.substr(9, 3).c_str());
  FUZZ_CHECK(status >= 200 && status <= 599);
  FUZZ_CHECK(status != 500);
  size_t head_end = answer.find("\r\n\r\n");
  FUZZ_CHECK(head_end != std::string::npos);
  std::string head = answer.substr(0, head_end), body = answer.substr(head_end + 4);
  FUZZ_CHECK(answer.find(kPassword) == std::string::npos);
  if (status >= 400 && !body.empty()) {
    nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
    FUZZ_CHECK(!j.is_discarded() && j.is_object() && j.contains("error"));
    FUZZ_CHECK(j["error"].value("code", "") != "" && j["error"].value("message", "") != "");
  }
  if (status >= 300 && status < 400) {
    size_t at = head.find("\r\nLocation: ");
    FUZZ_CHECK(at != std::string::npos);
    std::string location = head.substr(at + 12, head.find("\r\n", at + 12) - at - 12);
    // The provider's authorization page, or a path on the SPA's own site.
    bool on_site = location.size() >= 1 && location[0] == '/' && (location.size() == 1 || (location[1] != '/' && location[1] != '\\'));
    FUZZ_CHECK(on_site || location.rfind("https://idp.example.com/", 0) == 0);
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // authd logs one JSON line per request on stdout; libFuzzer reports on stderr.
  FUZZ_CHECK(freopen("/dev/null", "w", stdout) != nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (!world || ++requests > kRequestsPerWorld) {
    bool first = !world;
    world.reset();
    world = std::make_unique<World>();
    requests = 1;
    // OpenSSL's exit handler (registered as the first World used it) frees
    // what its threads keep; this one, registered later, runs before it,
    // so the password threads end while OpenSSL can still clean up after
    // them.
    if (first) std::atexit([] { world.reset(); });
  }
  ++world->now;
  std::string request = request_of(std::string(fuzz::as_text(data, size)), *world);
  std::string answer = one_exchange(world->server->http(), request);
  // SPA_FUZZ_SHOW=1 build/fuzz/fuzz_authd INPUT: what went in and came out.
  static const bool show = std::getenv("SPA_FUZZ_SHOW") != nullptr;
  if (show) std::fprintf(stderr, "--- request\n%s\n--- answer\n%s\n", request.c_str(), answer.c_str());
  check_answer(answer);
  return 0;
}
