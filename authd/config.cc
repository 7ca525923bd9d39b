#include "authd/config.h"

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

// toml++ 3.3.0 (Debian 12) asserts, and so aborts, on some malformed
// input instead of reporting it (a table header such as "[)", found by
// tests/fuzz/fuzz_config.cc). Here its assertions throw instead, and
// parse_config reports the file as malformed. With NDEBUG they would turn
// into compiler assumptions: undefined behaviour on such input.
#ifdef NDEBUG
#error "authd/config.cc needs toml++'s assertions: build it without NDEBUG"
#endif
namespace spa::authd {
struct TomlAssertion {};
}  // namespace spa::authd
#define TOML_ASSERT(expr) ((expr) ? static_cast<void>(0) : throw ::spa::authd::TomlAssertion{})
// In toml++'s noexcept functions the throw still ends the process, as the
// assertion did; the parser's own functions are not noexcept.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wterminate"
#endif
#include <toml++/toml.h>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include "authd/lmdb_store.h"
#include "authd/oidc.h"
#include "authd/pg_handles.h"
#include "authd/pg_store.h"
#include "authd/smtp_url.h"
#include "core/duration.h"
#include "core/gcra.h"
#include "core/origin.h"

namespace spa::authd {
namespace {

// Walks one table against its schema: a handler per known key; anything
// else is an error (a typo in a security setting must not pass silently).
class Checker {
 public:
  explicit Checker(std::vector<ConfigError>& errors) : errors_(errors) {}

  void error(const std::string& key, const toml::node* node, std::string message) {
    errors_.push_back({key, node ? static_cast<int64_t>(node->source().begin.line) : 0, std::move(message)});
  }

  using Handler = std::function<void(const std::string& key, const toml::node& value)>;

  void table(const toml::table& doc, const std::string& name, const std::map<std::string, Handler>& keys) {
    const toml::node* node = doc.get(name);
    if (!node) return;
    const toml::table* t = node->as_table();
    if (!t) {
      error(name, node, "must be a table");
      return;
    }
    for (const auto& [k, v] : *t) {
      std::string key = name + "." + std::string(k.str());
      auto it = keys.find(std::string(k.str()));
      if (it == keys.end()) error(key, &v, "unknown key");
      else it->second(key, v);
    }
  }

  Handler string(std::string& slot, bool allow_empty = false) {
    return [this, &slot, allow_empty](const std::string& key, const toml::node& v) {
      auto s = v.value<std::string>();
      if (!v.is_string() || !s) error(key, &v, "must be a string");
      else if (!allow_empty && s->empty()) error(key, &v, "must not be empty");
      else slot = *s;
    };
  }

  Handler path(std::string& slot) {
    return [this, &slot](const std::string& key, const toml::node& v) {
      auto s = v.value<std::string>();
      if (!v.is_string() || !s || s->empty() || (*s)[0] != '/') error(key, &v, "must be an absolute path");
      else slot = *s;
    };
  }

  Handler rate(core::RateLimit& slot) {
    return [this, &slot](const std::string& key, const toml::node& v) {
      auto s = v.value<std::string>();
      auto r = (v.is_string() && s) ? core::parse_rate(*s) : std::nullopt;
      if (!r) error(key, &v, "must be a rate like \"5/1h\" (1 to 1000000 per 1s to 1d)");
      else slot = *r;
    };
  }

  Handler duration(int64_t& slot, int64_t min, int64_t max) {
    return [this, &slot, min, max](const std::string& key, const toml::node& v) {
      auto s = v.value<std::string>();
      auto d = (v.is_string() && s) ? core::parse_duration(*s) : std::nullopt;
      if (!d) error(key, &v, "must be a duration like \"30s\", \"15m\", \"1h\" or \"7d\"");
      else if (*d < min || *d > max)
        error(key, &v, "must be between " + std::to_string(min) + "s and " + std::to_string(max) + "s");
      else slot = *d;
    };
  }

  Handler size(uint64_t& slot, uint64_t min, uint64_t max) {
    return [this, &slot, min, max](const std::string& key, const toml::node& v) {
      auto s = v.value<std::string>();
      auto n = (v.is_string() && s) ? parse_size(*s) : std::nullopt;
      if (!n) error(key, &v, "must be a size like \"64MiB\" or \"1GiB\"");
      else if (*n < min || *n > max)
        error(key, &v, "must be between " + std::to_string(min >> 20) + "MiB and " + std::to_string(max >> 30) + "GiB");
      else slot = *n;
    };
  }

  Handler integer(uint32_t& slot, int64_t min, int64_t max) {
    return [this, &slot, min, max](const std::string& key, const toml::node& v) {
      auto n = v.value<int64_t>();
      if (!v.is_integer() || !n) error(key, &v, "must be an integer");
      else if (*n < min || *n > max)
        error(key, &v, "must be between " + std::to_string(min) + " and " + std::to_string(max));
      else slot = static_cast<uint32_t>(*n);
    };
  }

  Handler boolean(bool& slot) {
    return [this, &slot](const std::string& key, const toml::node& v) {
      auto b = v.value<bool>();
      if (!v.is_boolean() || !b) error(key, &v, "must be true or false");
      else slot = *b;
    };
  }

  Handler strings(std::vector<std::string>& slot) {
    return [this, &slot](const std::string& key, const toml::node& v) {
      const toml::array* a = v.as_array();
      if (!a) {
        error(key, &v, "must be an array of strings");
        return;
      }
      slot.clear();
      for (const auto& item : *a) {
        auto s = item.value<std::string>();
        if (!item.is_string() || !s || s->empty()) {
          error(key, &item, "must be an array of non-empty strings");
          return;
        }
        slot.push_back(*s);
      }
    };
  }

 private:
  std::vector<ConfigError>& errors_;
};

bool valid_provider_name(const std::string& s) {
  if (s.empty() || s.size() > 32) return false;
  for (char ch : s)
    if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-')) return false;
  return true;
}

}  // namespace

std::optional<uint64_t> parse_size(std::string_view text) {
  size_t digits = 0;
  uint64_t n = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') {
    if (digits == 15) return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(text[digits++] - '0');
  }
  if (digits == 0) return std::nullopt;
  std::string_view unit = text.substr(digits);
  static const std::pair<std::string_view, int> kUnits[] = {
      {"", 0}, {"B", 0}, {"K", 10}, {"KiB", 10}, {"M", 20}, {"MiB", 20}, {"G", 30}, {"GiB", 30}, {"T", 40}, {"TiB", 40}};
  for (const auto& [name, shift] : kUnits) {
    if (unit != name) continue;
    if (n > (uint64_t{1} << 50) >> shift) return std::nullopt;
    return n << shift;
  }
  return std::nullopt;
}

// What toml++ 3.3.0 (Debian 12) must never see, refused here with its
// line (found by tests/fuzz/fuzz_config.cc):
// - control characters, which TOML allows nowhere but tab (and CR before
//   LF); the parser aborted on some, such as a NUL after "[";
// - any byte past ASCII: where the parser looks for whitespace (a bare key,
//   after a value, a multi-line string's trimmed line end) a character such
//   as U+00E9 reaches __builtin_unreachable() in its Unicode tables, which
//   is undefined behaviour. Text beyond ASCII is written as \uXXXX in a
//   "basic string", which TOML reads the same.
static bool unsupported_bytes_refused(std::string_view text, std::vector<ConfigError>& errors) {
  int64_t line = 1;
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '\n') {
      ++line;
      continue;
    }
    bool allowed = c == '\t' || (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n');
    char what[96] = "";
    if ((c < 0x20 || c == 0x7f) && !allowed)
      std::snprintf(what, sizeof what, "control character U+%04X is not allowed in TOML", c);
    else if (c >= 0x80)
      std::snprintf(what, sizeof what, "only ASCII is read here: write other characters as \\uXXXX in a \"string\"");
    if (what[0]) {
      errors.push_back({"", line, what});
      return true;
    }
  }
  return false;
}

// The line of the first table header whose name does not start like a
// key ("[)", "[[ ="), where toml++'s assertion fires; 0 when none is.
static int64_t malformed_table_header(std::string_view text) {
  int64_t line = 0;
  while (!text.empty()) {
    ++line;
    size_t nl = text.find('\n');
    std::string_view l = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    size_t at = l.find_first_not_of(" \t");
    if (at == std::string_view::npos || l[at] != '[') continue;
    at = l.find_first_not_of(" \t[", at);
    if (at == std::string_view::npos) return line;
    unsigned char c = static_cast<unsigned char>(l[at]);
    if (!(std::isalnum(c) || c == '_' || c == '-' || c == '"' || c == '\'' || c >= 0x80)) return line;
  }
  return 0;
}

bool parse_config(std::string_view text, const std::string& source, Config& out, std::vector<ConfigError>& errors) {
  if (unsupported_bytes_refused(text, errors)) return false;
  toml::table doc;
  try {
    doc = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    errors.push_back({"", static_cast<int64_t>(e.source().begin.line), std::string(e.description())});
    return false;
  } catch (const TomlAssertion&) {
    errors.push_back({"", malformed_table_header(text), "malformed TOML (a table header or key the parser cannot read)"});
    return false;
  }
  Checker c(errors);
  static const std::vector<std::string> kTables = {"server", "store", "tokens", "security",
                                                   "password", "mfa", "smtp", "oauth"};
  for (const auto& [k, v] : doc)
    if (std::find(kTables.begin(), kTables.end(), std::string(k.str())) == kTables.end())
      c.error(std::string(k.str()), &v, "unknown table");

  c.table(doc, "server", {{"socket", c.path(out.socket_path)}});
  std::string backend = "lmdb";
  const toml::node* backend_node = nullptr;
  c.table(doc, "store", {{"path", c.path(out.store_path)},
                         {"private_path", c.path(out.store_private_path)},
                         {"max_size", c.size(out.store_max_size, uint64_t{1} << 20, uint64_t{1} << 40)},
                         {"audit_retention", c.duration(out.audit_retention, 86400, 10 * 365 * 86400)},
                         {"sweep_interval", c.duration(out.sweep_interval, 1, 3600)},
                         {"backend", [&](const std::string& key, const toml::node& v) {
                            backend_node = &v;
                            c.string(backend)(key, v);
                          }},
                         {"postgresql", c.string(out.store_postgresql)},
                         {"postgresql_password_file", c.path(out.store_postgresql_password_file)},
                         {"max_staleness", c.duration(out.store_max_staleness, 2, PgStore::kMaxStaleness)}});
  if (backend == "postgresql") out.store_backend = Config::Backend::kPostgresql;
  else if (backend != "lmdb") c.error("store.backend", backend_node, "must be \"lmdb\" or \"postgresql\"");
  if (const toml::node* at = doc["store"]["postgresql"].node(); at && !out.store_postgresql.empty())
    if (std::string why = pg::check_conninfo(out.store_postgresql); !why.empty()) c.error("store.postgresql", at, why);
  if (out.store_backend == Config::Backend::kPostgresql && out.store_postgresql.empty())
    c.error("store.postgresql", backend_node, "is required with store.backend = \"postgresql\" (a libpq connection string)");
  if (out.store_backend == Config::Backend::kLmdb && !out.store_postgresql.empty())
    c.error("store.postgresql", doc["store"]["postgresql"].node(), "is set, but store.backend is \"lmdb\": set store.backend = \"postgresql\" too");
  std::string algorithm = "EdDSA", mode = "cookie";
  const toml::node* algorithm_node = nullptr;
  const toml::node* mode_node = nullptr;
  c.table(doc, "tokens",
          {{"issuer", c.string(out.issuer)},
           {"audience", c.string(out.audience)},
           {"algorithm", [&](const std::string& key, const toml::node& v) {
              algorithm_node = &v;
              c.string(algorithm)(key, v);
            }},
           {"access_ttl", c.duration(out.access_ttl, 60, 86400)},
           {"refresh_ttl", c.duration(out.refresh_ttl, 300, 365 * 86400)},
           {"refresh_grace", c.duration(out.refresh_grace, 0, 300)},
           {"key_dir", c.path(out.key_dir)},
           {"jwks_file", c.path(out.jwks_file)},
           {"key_encryption_key_file", c.path(out.key_encryption_key_file)},
           {"mode", [&](const std::string& key, const toml::node& v) {
              mode_node = &v;
              c.string(mode)(key, v);
            }}});
  if (algorithm == "EdDSA") out.algorithm = core::Alg::kEdDSA;
  else if (algorithm == "ES256") out.algorithm = core::Alg::kES256;
  else if (algorithm == "RS256") out.algorithm = core::Alg::kRS256;
  else c.error("tokens.algorithm", algorithm_node, "must be \"EdDSA\", \"ES256\" or \"RS256\"");
  if (mode == "cookie") out.mode = TokenMode::kCookie;
  else if (mode == "bearer") out.mode = TokenMode::kBearer;
  else if (mode == "both") out.mode = TokenMode::kBoth;
  else c.error("tokens.mode", mode_node, "must be \"cookie\", \"bearer\" or \"both\"");
  if (out.issuer.empty() && !doc["tokens"]["issuer"]) c.error("tokens.issuer", nullptr, "is required");
  {
    // Compared as paths, not strings: "/a/./b", "/a//b" and "/a/b/x/.." are /a/b.
    // (Symlinks are the store's to see: LmdbStore::open compares the directories.)
    auto trimmed = [](const std::string& text) {
      std::string p = std::filesystem::path(text).lexically_normal().string();
      while (p.size() > 1 && p.back() == '/') p.pop_back();
      return p;
    };
    const toml::node* at = doc["store"]["private_path"].node();
    std::string mirror = trimmed(out.store_path);
    std::string store = trimmed(out.store_private_path.empty() ? LmdbStore::default_private_path(mirror) : out.store_private_path);
    if (store == mirror)
      c.error("store.private_path", at, "must differ from store.path (nginx's workers read store.path)");
    else if (mirror.compare(0, store.size() + 1, store + "/") == 0)
      c.error("store.private_path", at, "must not contain store.path: nginx's workers could not reach it");
    out.store_private_path = store;
  }
  if (out.refresh_ttl <= out.access_ttl)
    c.error("tokens.refresh_ttl", doc["tokens"]["refresh_ttl"].node(), "must be longer than tokens.access_ttl");

  c.table(doc, "security", {{"allowed_origins", [&](const std::string& key, const toml::node& v) {
                              c.strings(out.allowed_origins)(key, v);
                              for (const auto& o : out.allowed_origins)
                                if (!core::is_origin(o)) c.error(key, &v, "\"" + o + "\" is not an origin like https://app.example.com");
                            }},
                           {"require_verified_email", c.boolean(out.require_verified_email)},
                           {"admin_require_mfa", c.boolean(out.admin_require_mfa)}});
  c.table(doc, "password", {{"argon2_memory_kib", c.integer(out.argon2_memory_kib, 19456, 4 * 1024 * 1024)},
                            {"argon2_iterations", c.integer(out.argon2_iterations, 2, 64)},
                            {"argon2_parallelism", c.integer(out.argon2_parallelism, 1, 64)},
                            {"queue", c.integer(out.password_queue, 0, 1024)},
                            {"queue_timeout", c.duration(out.password_queue_timeout, 1, 60)}});
  c.table(doc, "mfa", {{"issuer_name", c.string(out.mfa_issuer_name)},
                       {"secret_key_file", c.path(out.mfa_secret_key_file)}});
  c.table(doc, "smtp", {{"url", c.string(out.smtp_url)},
                        {"from", c.string(out.smtp_from)},
                        {"username", c.string(out.smtp_username)},
                        {"password_file", c.path(out.smtp_password_file)},
                        {"timeout", c.duration(out.smtp_timeout, 1, 300)},
                        {"retry_for", c.duration(out.smtp_retry_for, 0, 3600)},
                        {"recipient_limit", c.rate(out.mail_limits.per_recipient)},
                        {"account_limit", c.rate(out.mail_limits.per_account)}});
  // This file is readable by spa-authd's group, nginx's user included: no secret in it.
  if (smtp_url_has_password(out.smtp_url))
    c.error("smtp.url", doc["smtp"]["url"].node(),
            "must not hold a password (nginx's user can read this file): set [smtp] username and password_file");
  if (!out.smtp_password_file.empty() && out.smtp_username.empty())
    c.error("smtp.password_file", doc["smtp"]["password_file"].node(), "needs [smtp] username");

  if (const toml::node* oauth = doc.get("oauth")) {
    const toml::table* providers = oauth->as_table();
    if (!providers) {
      c.error("oauth", oauth, "must be a table of providers, like [oauth.google]");
    } else {
      for (const auto& [name, v] : *providers) {
        if (name.str() == "login_page") {
          std::string page;
          c.string(page)("oauth.login_page", v);
          if (!page.empty() && (page[0] != '/' || (page.size() > 1 && page[1] == '/') ||
                                page.find_first_of("#\\ ") != std::string::npos))
            c.error("oauth.login_page", &v, "must be a path on the SPA's site, like \"/login\"");
          else if (!page.empty())
            out.oauth_login_page = page;
          continue;
        }
        if (name.str() == "calls_per_provider") {
          c.integer(out.oauth_calls_per_provider, 1, 256)("oauth.calls_per_provider", v);
          continue;
        }
        if (name.str() == "call_timeout") {
          c.duration(out.oauth_call_timeout, 1, 60)("oauth.call_timeout", v);
          continue;
        }
        OAuthProviderConfig p;
        p.name = std::string(name.str());
        std::string prefix = "oauth." + p.name;
        const toml::table* t = v.as_table();
        if (!t) {
          c.error(prefix, &v, "must be a table");
          continue;
        }
        if (!valid_provider_name(p.name))
          c.error(prefix, &v, "a provider name must be 1 to 32 lowercase letters, digits, '_' or '-'");
        for (const auto& [k, value] : *t) {
          std::string key = prefix + "." + std::string(k.str());
          std::string field(k.str());
          if (field == "client_id") c.string(p.client_id)(key, value);
          else if (field == "client_secret_file") c.path(p.client_secret_file)(key, value);
          else if (field == "redirect_uri") {
            c.string(p.redirect_uri)(key, value);
            std::string path = "/api/v1/oauth/" + p.name + "/callback";
            if (!p.redirect_uri.empty() && !oidc::url_allowed(p.redirect_uri))
              c.error(key, &value, "must be an https:// URL (http:// only on a loopback address)");
            else if (!p.redirect_uri.empty() && (p.redirect_uri.size() < path.size() ||
                                                 p.redirect_uri.substr(p.redirect_uri.size() - path.size()) != path))
              c.error(key, &value, "must end with " + path + ", where spa-authd answers the callback");
          } else if (field == "discovery") {
            c.string(p.discovery)(key, value);
            const std::string well_known = "/.well-known/openid-configuration";
            if (!p.discovery.empty() && !oidc::url_allowed(p.discovery))
              c.error(key, &value, "must be an https:// URL (http:// only on a loopback address)");
            else if (!p.discovery.empty() && (p.discovery.size() <= well_known.size() ||
                                              p.discovery.substr(p.discovery.size() - well_known.size()) != well_known))
              c.error(key, &value, "must end with " + well_known);
          } else if (field == "scopes") {
            c.strings(p.scopes)(key, value);
            if (std::find(p.scopes.begin(), p.scopes.end(), "openid") == p.scopes.end())
              c.error(key, &value, "must include \"openid\"");
          } else if (field == "allowed_redirects") {
            c.strings(p.allowed_redirects)(key, value);
            for (const auto& r : p.allowed_redirects)
              if (!oidc::url_allowed(r)) c.error(key, &value, "\"" + r + "\" is not an https:// URL");
          } else {
            c.error(key, &value, "unknown key");
          }
        }
        if (p.client_id.empty()) c.error(prefix + ".client_id", &v, "is required");
        if (p.client_secret_file.empty()) c.error(prefix + ".client_secret_file", &v, "is required");
        if (p.redirect_uri.empty()) c.error(prefix + ".redirect_uri", &v, "is required");
        if (p.name != "google" && p.discovery.empty())
          c.error(prefix + ".discovery", &v, "is required for providers other than google");
        out.oauth.push_back(std::move(p));
      }
    }
  }
  return errors.empty();
}

bool load_config(const std::string& path, Config& out, std::vector<ConfigError>& errors) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    errors.push_back({"", 0, "cannot read the file"});
    return false;
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), path, out, errors);
}

std::string format_error(const std::string& source, const ConfigError& e) {
  std::string s = source;
  if (e.line > 0) s += ":" + std::to_string(e.line);
  s += ": ";
  if (!e.key.empty()) s += e.key + ": ";
  return s + e.message;
}

}  // namespace spa::authd
