// spa-demo-echo: the demo microservice for `make run` and the demo SPA.
// It trusts the gateway (docs/services.md): nginx checked the token and
// sent who the caller is as X-User-* headers. It listens on loopback only,
// so no other machine can send them; any process of this machine can,
// which is why a real service on a shared host listens on a Unix socket
// only nginx may open, or checks a client certificate.
//
//   /api/v1/demo/notes      GET: the caller's notes; POST {"text"}: add one
//   /api/v1/demo/notes/ID   DELETE: remove one of the caller's notes
//   anything else           GET/POST: echoes the X-User-* headers it got
//
// Notes live in memory, keyed by X-User-Id, and are bounded: 20 per user,
// 500 bytes each, 10,000 users (the oldest user's notes go first). Bodies
// are 16 KiB at most and never content-coded; answers are never cached.
//
//   spa-demo-echo [--listen 127.0.0.1] [--port 9101] [--max-users 10000]
#include <httplib.h>

#include <algorithm>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <deque>
#include <list>
#include <mutex>
#include <string>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "core/utf8.h"

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

// A path or header that is not UTF-8 is shown with U+FFFD, not a 500.
std::string json_text(const nlohmann::json& j, int indent = -1) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
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
  res.set_content(json_text(body, 2), "application/json");
}

nlohmann::json meta(const httplib::Request& req) {
  return {{"timestamp", utc_now()}, {"version", "v1"}, {"requestId", req.get_header_value("X-Request-Id")}};
}

void answer(const httplib::Request& req, httplib::Response& res, int status, nlohmann::json data) {
  res.status = status;
  res.set_content(json_text({{"success", true}, {"data", std::move(data)}, {"meta", meta(req)}}), "application/json");
}

void refuse(const httplib::Request& req, httplib::Response& res, int status, const char* code, const char* message) {
  res.status = status;
  nlohmann::json error = {{"code", code}, {"message", message}};
  res.set_content(json_text({{"success", false}, {"error", error}, {"meta", meta(req)}}), "application/json");
}

struct Note {
  uint64_t id;
  std::string text;
  int64_t created_at;
};

// Every user's notes, the least recently written user first in `order`.
class Notes {
 public:
  static constexpr size_t kPerUser = 20, kMaxText = 500;
  size_t max_users = 10000;  // --max-users: the oldest user's notes go past it

  nlohmann::json list(const std::string& user) {
    std::lock_guard lock(mu_);
    nlohmann::json out = nlohmann::json::array();
    auto it = by_user_.find(user);
    if (it != by_user_.end())
      for (const Note& n : it->second.notes)
        out.push_back({{"id", std::to_string(n.id)}, {"text", n.text}, {"created_at", n.created_at}});
    return out;
  }

  // false: the user has kPerUser notes already.
  bool add(const std::string& user, std::string text, nlohmann::json& note) {
    std::lock_guard lock(mu_);
    auto it = by_user_.find(user);
    if (it == by_user_.end()) {
      if (by_user_.size() >= max_users) {
        by_user_.erase(order_.front());
        order_.pop_front();
      }
      order_.push_back(user);
      it = by_user_.emplace(user, Entry{{}, std::prev(order_.end())}).first;
    } else {
      order_.splice(order_.end(), order_, it->second.place);
    }
    if (it->second.notes.size() >= kPerUser) return false;
    Note n{++next_id_, std::move(text), static_cast<int64_t>(std::time(nullptr))};
    note = {{"id", std::to_string(n.id)}, {"text", n.text}, {"created_at", n.created_at}};
    it->second.notes.push_back(std::move(n));
    return true;
  }

  bool remove(const std::string& user, const std::string& id) {
    std::lock_guard lock(mu_);
    auto it = by_user_.find(user);
    if (it == by_user_.end()) return false;
    auto& notes = it->second.notes;
    for (auto n = notes.begin(); n != notes.end(); ++n)
      if (std::to_string(n->id) == id) {
        notes.erase(n);
        return true;
      }
    return false;
  }

 private:
  struct Entry {
    std::deque<Note> notes;
    std::list<std::string>::iterator place;
  };
  std::mutex mu_;
  std::unordered_map<std::string, Entry> by_user_;
  std::list<std::string> order_;
  uint64_t next_id_ = 0;
};

Notes g_notes;

// The caller nginx vouches for. No X-User-Id: the request did not pass
// spa_auth (a location without it, or someone reaching the port directly).
const std::string* caller(const httplib::Request& req, httplib::Response& res) {
  auto it = req.headers.find("X-User-Id");
  if (it == req.headers.end() || it->second.empty()) {
    refuse(req, res, 401, "missing_token", "no verified caller (this service is reached through nginx only)");
    return nullptr;
  }
  return &it->second;
}

void notes_get(const httplib::Request& req, httplib::Response& res) {
  if (const std::string* user = caller(req, res)) answer(req, res, 200, {{"notes", g_notes.list(*user)}});
}

void notes_post(const httplib::Request& req, httplib::Response& res) {
  const std::string* user = caller(req, res);
  if (!user) return;
  nlohmann::json body = nlohmann::json::parse(req.body, nullptr, false);
  if (!body.is_object() || !body.contains("text") || !body["text"].is_string())
    return refuse(req, res, 400, "invalid_request", "the body must be {\"text\": \"...\"}");
  std::string text = body["text"].get<std::string>();
  if (text.empty() || text.size() > Notes::kMaxText || !spa::core::utf8_valid(text))
    return refuse(req, res, 400, "validation_failed", "a note is 1 to 500 bytes of text");
  nlohmann::json note;
  if (!g_notes.add(*user, std::move(text), note))
    return refuse(req, res, 409, "too_many_notes", "20 notes at most: delete one first");
  answer(req, res, 201, {{"note", note}});
}

void notes_delete(const httplib::Request& req, httplib::Response& res) {
  const std::string* user = caller(req, res);
  if (!user) return;
  // Another user's note is "not found" too: ids tell nothing about others.
  if (!g_notes.remove(*user, req.matches[1])) return refuse(req, res, 404, "not_found", "no such note");
  answer(req, res, 200, {{"deleted", std::string(req.matches[1])}});
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  int port = 9101;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--listen") host = argv[i + 1];
    else if (a == "--port") port = std::stoi(argv[i + 1]);
    else if (a == "--max-users") g_notes.max_users = std::max(1, std::stoi(argv[i + 1]));
    else {
      std::fprintf(stderr, "usage: spa-demo-echo [--listen ADDR] [--port N] [--max-users N]\n");
      return 2;
    }
  }
  httplib::Server server;
  g_server = &server;
  std::signal(SIGTERM, [](int) { if (g_server) g_server->stop(); });
  std::signal(SIGINT, [](int) { if (g_server) g_server->stop(); });
  server.set_payload_max_length(16 * 1024);
  // A body with a Content-Encoding is refused before it is read: httplib
  // would inflate it, and 16 KiB of brotli is gigabytes of text (nginx's
  // locations refuse it too). Every answer depends on the caller:
  // no cache keeps one.
  server.set_pre_routing_handler([](const httplib::Request& req, httplib::Response& res) {
    res.set_header("Cache-Control", "no-store");
    if (!req.has_header("Content-Encoding")) return httplib::Server::HandlerResponse::Unhandled;
    refuse(req, res, 415, "unsupported_media_type", "request bodies take no Content-Encoding");
    return httplib::Server::HandlerResponse::Handled;
  });
  server.Get("/api/v1/demo/notes", notes_get);
  server.Post("/api/v1/demo/notes", notes_post);
  server.Delete(R"(/api/v1/demo/notes/([0-9]{1,20}))", notes_delete);
  server.Get(".*", echo);
  server.Post(".*", echo);  // unsafe requests too, for the CSRF check in front of it
  std::printf("spa-demo-echo listening on %s:%d\n", host.c_str(), port);
  std::fflush(stdout);
  return server.listen(host.c_str(), port) ? 0 : 1;
}
