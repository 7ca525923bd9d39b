// spa-authd: the daemon behind /api/v1/{auth,mfa,oauth,admin}/.
//
//   spa-authd --config FILE                 serve on the configured Unix socket
//   spa-authd --check-config --config FILE  check the file, name each bad key and line
//   spa-authd keys rotate --config FILE     publish a new signing key, sign with it shortly after
//   spa-authd users set-role EMAIL ROLE --config FILE
//   spa-authd db migrate --config FILE      create or upgrade the PostgreSQL schema
//   spa-authd db import [--from DIR] --config FILE
//                                           copy a single machine's LMDB store into PostgreSQL
//   spa-authd --version                     this build's version and its libraries'
#include <curl/curl.h>
#include <liboath/oath.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <functional>
#include <mutex>
#include <cstring>
#include <ctime>
#include <string>
#include <thread>
#include <utility>

#include <nlohmann/json.hpp>

#include "authd/config.h"
#include "authd/crypto.h"
#include "authd/db_import.h"
#include "authd/auth_service.h"
#include "authd/files.h"
#include "authd/http_client.h"
#include "authd/mailer.h"
#include "authd/oauth.h"
#include "authd/passwords.h"
#include "authd/routes.h"
#include "authd/lmdb_store.h"
#include "authd/pg_keys.h"
#include "authd/pg_store.h"
#include "authd/server.h"
#include "authd/signing_keys.h"
#include "authd/sweeper.h"
#include "core/envelope.h"
#include "core/version.h"

namespace {

using namespace spa::authd;

int64_t unix_now() { return static_cast<int64_t>(std::time(nullptr)); }

// Calls fn every `every` until destroyed (then joins).
class Ticker {
 public:
  Ticker(std::chrono::milliseconds every, std::function<void()> fn)
      : thread_([this, every, fn = std::move(fn)] {
          std::unique_lock lock(mu_);
          while (!cv_.wait_for(lock, every, [this] { return stop_; })) {
            lock.unlock();
            try {
              fn();
            } catch (const std::exception& e) {
              log_event("error", "ticker_failed", {{"reason", e.what()}});
            }
            lock.lock();
          }
        }) {}
  ~Ticker() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  Ticker(const Ticker&) = delete;
  Ticker& operator=(const Ticker&) = delete;

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;  // (last: it starts once the rest is made)
};

int usage() {
  std::fprintf(stderr,
               "usage: spa-authd --config FILE\n"
               "       spa-authd --check-config --config FILE\n"
               "       spa-authd keys rotate --config FILE\n"
               "       spa-authd users set-role EMAIL user|admin --config FILE\n"
               "       spa-authd db migrate --config FILE\n"
               "       spa-authd db import [--from DIR] --config FILE\n"
               "       spa-authd --version\n");
  return 2;
}

// The libraries as loaded (a security update may have replaced one since the build).
std::string libraries() {
  const char* oath = oath_check_version(nullptr);
  return spa::core::runtime_libraries() + ", libcurl " + curl_version_info(CURLVERSION_NOW)->version +
         ", liboath " + (oath ? oath : "?");
}

int print_version() {
  std::printf("spa-authd %s\n%s\n", spa::core::version(), libraries().c_str());
  return 0;
}

bool load(const std::string& path, Config& config) {
  std::vector<ConfigError> errors;
  if (load_config(path, config, errors)) return true;
  for (const auto& e : errors) std::fprintf(stderr, "%s\n", format_error(path, e).c_str());
  return false;
}

// A key file of 32 random bytes ([mfa] secret_key_file, [tokens]
// key_encryption_key_file), created (0600) on first start when the
// directory is writable; `make install` creates the MFA key otherwise.
bool load_key_file(const std::string& path, std::string& key, std::string& err, bool create = true) {
  struct stat st;
  bool there = ::lstat(path.c_str(), &st) == 0 || errno != ENOENT;
  if (there || !create) {
    if (!read_private_file(path, key, err)) return false;
    if (key.size() == 32) return true;
    err = path + ": must hold exactly 32 bytes";
    return false;
  }
  auto slash = path.rfind('/');
  if (!make_dirs(path.substr(0, slash), 0750, err)) return false;
  key = random_bytes(32);
  if (!write_file_atomic(path, key, 0600, err)) return false;
  log_event("info", "key_file_created", {{"path", path}});
  return true;
}
bool load_mfa_key(const Config& c, std::string& key, std::string& err) {
  return load_key_file(c.mfa_secret_key_file, key, err);
}

// The commands write the store and key files as whoever runs them. Root
// writing into a tree another user controls (any component of the path
// theirs, a symlink included) would follow whatever that user placed there,
// and would leave files the daemon cannot read (a key it cannot load). So
// root is refused unless every component of the store's, the keys' and the
// JWKS's directories is root's: run the command as their owner
// (`runuser -u spa-authd -- spa-authd ...`).
bool runs_as_owner(const Config& c) {
  if (::geteuid() != 0) return true;  // another user cannot write them anyway (permissions decide)
  for (const std::string& dir : {c.store_path, c.store_private_path, c.key_dir, dir_of(c.jwks_file)}) {
    std::string p = dir;
    while (!p.empty() && p != "/") {
      struct stat st;
      if (::lstat(p.c_str(), &st) == 0 && st.st_uid != 0) {  // (a missing one is made by the command, as root)
        struct passwd* pw = ::getpwuid(st.st_uid);
        std::string owner = pw ? pw->pw_name : std::to_string(st.st_uid);
        std::fprintf(stderr, "spa-authd: %s belongs to %s: run this as %s (runuser -u %s -- spa-authd ...), not as root\n",
                     p.c_str(), owner.c_str(), owner.c_str(), owner.c_str());
        return false;
      }
      size_t slash = p.rfind('/');
      p = slash == std::string::npos ? "" : p.substr(0, std::max<size_t>(slash, 1));
    }
  }
  return true;
}

// [store] backend = "postgresql": the connection and what it may do.
bool pg_options(const Config& c, PgStore::Options& o, std::string& err) {
  o.conninfo = c.store_postgresql;
  o.max_size = c.store_max_size;
  o.max_staleness = c.store_max_staleness;
  if (!c.store_postgresql_password_file.empty() &&
      !read_secret_file(c.store_postgresql_password_file, o.password, err)) {
    err = "store.postgresql_password_file: " + err;
    return false;
  }
  while (!o.password.empty() && (o.password.back() == '\n' || o.password.back() == '\r')) o.password.pop_back();
  return true;
}

// The configured store. `mirror`: keep this node's mirror of the sessions
// (the daemon); a command's writes reach it through the daemon's feed.
std::unique_ptr<Store> open_store(const Config& c, bool mirror, std::string& err) {
  if (c.store_backend == Config::Backend::kPostgresql) {
    PgStore::Options o;
    if (!pg_options(c, o, err)) return nullptr;
    if (mirror) o.mirror_path = c.store_path;
    auto store = std::make_unique<PgStore>();
    if (!store->open(o, err)) return nullptr;
    return store;
  }
  auto store = std::make_unique<LmdbStore>();
  if (!store->open(c.store_path, err, c.store_max_size, c.store_private_path)) return nullptr;
  return store;
}

int migrate_db(const Config& config) {
  if (config.store_backend != Config::Backend::kPostgresql) {
    std::fprintf(stderr, "spa-authd: db migrate is for store.backend = \"postgresql\"; this configuration uses LMDB, "
                         "which spa-authd migrates itself at start\n");
    return 1;
  }
  PgStore::Options o;
  std::string err, report;
  if (!pg_options(config, o, err) || !PgStore::migrate(o, report, err)) {
    std::fprintf(stderr, "spa-authd: db migrate: %s\n", err.c_str());
    return 1;
  }
  std::printf("%s\n", report.c_str());
  return 0;
}

// `from`: the LMDB store's directory; "" for [store] private_path, where a
// single machine's store lives (unused once the backend is PostgreSQL).
int import_db(const Config& config, std::string from) {
  if (config.store_backend != Config::Backend::kPostgresql) {
    std::fprintf(stderr, "spa-authd: db import copies an LMDB store into PostgreSQL: set [store] backend = \"postgresql\" "
                         "and run `spa-authd db migrate` first\n");
    return 1;
  }
  if (from.empty()) from = config.store_private_path;
  if (from[0] != '/') {
    std::fprintf(stderr, "spa-authd: db import: --from %s: must be an absolute path\n", from.c_str());
    return 1;
  }
  std::string err, mfa_key;
  auto refuse = [](const std::string& why) {
    std::fprintf(stderr, "spa-authd: db import: %s (nothing was imported)\n", why.c_str());
    return 1;
  };
  // (never created here: a new file would open none of the store's seeds)
  if (!load_key_file(config.mfa_secret_key_file, mfa_key, err, false))
    return refuse("mfa.secret_key_file: " + err + ": copy the old machine's file first");
  std::unique_ptr<Store> store = open_store(config, false, err);
  if (!store) {
    std::fprintf(stderr, "spa-authd: db import: %s\n", err.c_str());
    return 1;
  }
  // A spa-authd of the cluster started before the import made the
  // cluster's keys: key_dir's are then never taken over, and every token
  // signed on this machine would be refused after the move.
  PgStore::Options o;
  std::vector<std::string> cluster_kids, own_kids;
  if (!pg_options(config, o, err) || !PgKeyVault::kids(o.conninfo, o.password, cluster_kids, err)) return refuse(err);
  if (!key_dir_kids(config.key_dir, own_kids, err))
    return refuse("tokens.key_dir: " + err + ": its keys signed every live token and move with the store");
  if (!cluster_kids.empty())
    for (const auto& kid : own_kids)
      if (std::find(cluster_kids.begin(), cluster_kids.end(), kid) == cluster_kids.end())
        return refuse("the database already has signing keys, and not " + config.key_dir + "'s key " + kid +
                      " (a spa-authd started on it before the import): tokens signed on this machine would be refused "
                      "after the move; make the database again (`spa-authd db migrate` on an empty one), import, then "
                      "start spa-authd on this machine first");
  ImportResult r = import_lmdb_store(from, *store, {mfa_key, config.store_max_size});
  if (!r.error.empty()) return refuse(r.error);
  uint64_t total = 0;
  std::string tables;
  for (int i = 0; i < kDbCount; ++i) {
    total += r.rows[i];
    if (r.rows[i] && static_cast<Db>(i) != Db::kMeta)
      tables += std::string(tables.empty() ? "" : ", ") + db_name(static_cast<Db>(i)) + " " + std::to_string(r.rows[i]);
  }
  std::printf("imported %llu records (%llu bytes) from %s: %s\n", static_cast<unsigned long long>(total),
              static_cast<unsigned long long>(r.bytes), from.c_str(), tables.empty() ? "no accounts yet" : tables.c_str());
  if (own_kids.empty() && r.rows[static_cast<int>(Db::kSessions)] > 0)
    r.warnings.push_back(config.key_dir + " holds no signing keys: the access tokens issued before the move will be "
                         "refused (their users refresh or sign in again)");
  for (const auto& w : r.warnings) std::fprintf(stderr, "spa-authd: db import: warning: %s\n", w.c_str());
  std::printf("next: start spa-authd on this machine first, so that the database takes the signing keys of %s "
              "(tokens signed before the move stay valid); give every node the same %s and %s\n",
              config.key_dir.c_str(), config.mfa_secret_key_file.c_str(), config.key_encryption_key_file.c_str());
  return 0;
}

SigningKeys::Options key_options(const Config& c) {
  return {c.key_dir, c.jwks_file, c.algorithm, c.access_ttl, 5};
}

// The signing keys: key_dir's files, or with store.backend = "postgresql"
// the cluster's, sealed in the database under the key-encryption key.
// The daemon creates the key-encryption key at its first start (`create`);
// a command never does (a new key would open none of the cluster's keys).
// key_dir's keys, if any, become the database's first (an installation
// moving from one machine to a cluster keeps every live token's key).
std::unique_ptr<SigningKeys> make_keys(const Config& c, std::string& err, bool create = false) {
  if (c.store_backend != Config::Backend::kPostgresql) return std::make_unique<SigningKeys>(key_options(c));
  PgStore::Options o;
  std::string kek;
  if (!pg_options(c, o, err)) return nullptr;
  if (!load_key_file(c.key_encryption_key_file, kek, err, create)) {
    err = "tokens.key_encryption_key_file: " + err;
    return nullptr;
  }
  return std::make_unique<SigningKeys>(key_options(c), std::make_unique<PgKeyVault>(o.conninfo, o.password, kek));
}

int rotate_keys(const Config& config) {
  std::string err;
  std::unique_ptr<SigningKeys> made = make_keys(config, err);
  if (!made) {
    std::fprintf(stderr, "spa-authd: key rotation failed: %s\n", err.c_str());
    return 1;
  }
  SigningKeys& keys = *made;
  if (!keys.rotate(unix_now(), err)) {
    std::fprintf(stderr, "spa-authd: key rotation failed: %s\n", err.c_str());
    return 1;
  }
  const auto& s = keys.schedule().back();
  std::printf("published key %s; it signs from %s (%zu keys published)\n", s.kid.c_str(),
              spa::core::utc_timestamp(s.active_from).c_str(), keys.schedule().size());
  return 0;
}

int set_role(const Config& config, const std::string& email, const std::string& role) {
  std::string err;
  std::unique_ptr<SigningKeys> made = make_keys(config, err);
  std::unique_ptr<Store> opened = made ? open_store(config, false, err) : nullptr;
  if (!opened) {
    std::fprintf(stderr, "spa-authd: %s\n", err.c_str());
    return 1;
  }
  Store& store = *opened;
  SigningKeys& keys = *made;
  PasswordHasher hasher(config.argon2_memory_kib, config.argon2_iterations, config.argon2_parallelism);
  AuthService service(config, store, keys, hasher, unix_now, std::string(32, '\0'));  // set_role needs no MFA key
  Outcome o = service.set_role(email, role);
  if (!o.ok()) {
    std::fprintf(stderr, "spa-authd: %s\n", o.message.c_str());
    return 1;
  }
  std::printf("%s is now %s\n", email.c_str(), role.c_str());
  return 0;
}

int serve(const Config& config) {
  // Signals go to one thread that stops the server; the rest never see them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  std::string err;
  // The store first: it says when the database's schema needs `db migrate`.
  std::unique_ptr<Store> opened = open_store(config, true, err);
  if (!opened) {
    log_event("error", "startup_failed", {{"reason", "store: " + err}});
    return 1;
  }
  Store& store = *opened;
  std::unique_ptr<SigningKeys> made = make_keys(config, err, true);
  if (!made || !made->open(unix_now(), err)) {
    log_event("error", "startup_failed", {{"reason", "signing keys: " + err}});
    return 1;
  }
  SigningKeys& keys = *made;
  std::string mfa_key;
  if (!load_mfa_key(config, mfa_key, err)) {
    log_event("error", "startup_failed", {{"reason", "mfa key: " + err}});
    return 1;
  }
  PasswordHasher hasher(config.argon2_memory_kib, config.argon2_iterations, config.argon2_parallelism,
                        {config.password_queue, config.password_queue_timeout * 1000});
  AuthService service(config, store, keys, hasher, unix_now, mfa_key);
  Mailer::Options mail{config.smtp_timeout, config.smtp_retry_for, config.smtp_username, ""};
  if (!config.smtp_password_file.empty() && !read_secret_file(config.smtp_password_file, mail.password, err)) {
    log_event("error", "startup_failed", {{"reason", "smtp.password_file: " + err}});
    return 1;
  }
  Mailer mailer(config.smtp_url, config.smtp_from, mail);
  service.set_mailer(&mailer);
  SweepThread sweeping(store, SweepSettings{config.access_ttl, config.audit_retention}, config.sweep_interval, unix_now,
                       [&service, &store](int64_t now) {
                         // A write that does nothing: its batch first checks the
                         // sessions mirror and syncs it if a failed commit (ours or
                         // the CLI's) left it behind, so a mirror that missed a
                         // revocation is mended within a pass even with no traffic.
                         store.transact([](Store::Txn&) { return TxnEnd::kAbort; }, Store::WriteKind::kRevocation);
                         // Reads only the due entries of the unverified index: cheap on every pass.
                         size_t erased = 0;
                         std::string why;
                         if (!service.sweep_unverified(now, erased, why))
                           log_event("error", "store_sweep_failed", {{"reason", why}});
                         if (erased) log_event("info", "unverified_accounts_erased", {{"count", std::to_string(erased)}});
                       });
  curl_global_init(CURL_GLOBAL_DEFAULT);  // before any thread: libcurl's global state
  // Connecting is one round trip (plus TLS): 3 s is generous anywhere; the
  // whole call, [oauth] call_timeout (5 s by default).
  CurlHttpClient http_client({std::min<long>(3000, config.oauth_call_timeout * 1000), config.oauth_call_timeout * 1000,
                              256 * 1024});
  OAuthLogin oauth(config, service, store, http_client, unix_now);
  if (!oauth.load_secrets(err)) {
    log_event("error", "startup_failed", {{"reason", err}});
    return 1;
  }
  AuthServer server(hasher.max_callers() + oauth.max_callers());
  register_routes(server, service, oauth, config,
                  {[&server] { return server.metrics(); }, [&store] { return store.metrics(); },
                   [&service, &mailer] { return service.mail_metrics() + mailer.metrics(); }, [&hasher] { return hasher.metrics(); },
                   [&oauth] { return oauth.metrics(); }});

  // In a cluster another node may rotate the keys: a look once a second
  // publishes them here (the JWKS this node's nginx reads), whether or not
  // this node signs anything meanwhile.
  std::unique_ptr<Ticker> key_watch;
  if (config.store_backend == Config::Backend::kPostgresql)
    key_watch = std::make_unique<Ticker>(std::chrono::seconds(1), [&service] { service.issuer().keys(unix_now()); });
  std::thread waiter([&server, stop_signals] {
    int sig = 0;
    sigwait(&stop_signals, &sig);
    log_event("info", "stopping", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
    server.stop();
  });
  log_event("info", "started", {{"version", spa::core::version()},
                                 {"libraries", libraries()},
                                 {"socket", config.socket_path},
                                 {"store", config.store_backend == Config::Backend::kPostgresql ? "postgresql" : "lmdb"},
                                 {"signing_kid", keys.signing_key(unix_now())->kid},
                                 {"jwks_file", config.jwks_file}});
  bool ok = server.serve(config.socket_path, err);
  if (!ok) log_event("error", "serve_failed", {{"reason", err}});
  // If serve returned on its own, wake the waiter so it can be joined.
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  log_event("info", "stopped", {});
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path, command, email, role, from;
  bool check = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--config" && i + 1 < argc) config_path = argv[++i];
    else if (a == "--check-config") check = true;
    else if (a == "--version" && argc == 2) return print_version();
    else if (a == "keys" && i + 1 < argc && std::strcmp(argv[i + 1], "rotate") == 0) command = "rotate", ++i;
    else if (a == "db" && i + 1 < argc && std::strcmp(argv[i + 1], "migrate") == 0) command = "migrate", ++i;
    else if (a == "db" && i + 1 < argc && std::strcmp(argv[i + 1], "import") == 0) command = "import", ++i;
    else if (a == "--from" && command == "import" && i + 1 < argc && argv[i + 1][0]) from = argv[++i];
    else if (a == "users" && i + 3 < argc && std::strcmp(argv[i + 1], "set-role") == 0)
      command = "set-role", email = argv[i + 2], role = argv[i + 3], i += 3;
    else return usage();
  }
  if (config_path.empty()) return usage();
  try {
    Config config;
    if (!load(config_path, config)) return 1;
    if (check) {
      // Files the configuration names must be readable by whoever checks.
      bool ok = true;
      std::vector<std::pair<std::string, std::string>> secrets;  // key, file
      for (const auto& p : config.oauth) secrets.emplace_back("oauth." + p.name + ".client_secret_file", p.client_secret_file);
      if (!config.smtp_password_file.empty()) secrets.emplace_back("smtp.password_file", config.smtp_password_file);
      if (!config.store_postgresql_password_file.empty())
        secrets.emplace_back("store.postgresql_password_file", config.store_postgresql_password_file);
      for (const auto& [key, file] : secrets) {
        std::string secret, err;
        if (!read_secret_file(file, secret, err)) {
          std::fprintf(stderr, "%s: %s: %s\n", config_path.c_str(), key.c_str(), err.c_str());
          ok = false;
        }
      }
      // The directories it writes, checked as the user who checks (systemd's
      // ExecStartPre runs it as spa-authd): a store or key directory it
      // cannot write fails here, by name, rather than at the first start.
      const std::pair<const char*, std::string> dirs[] = {{"store.path", config.store_path},
                                                           {"store.private_path", config.store_private_path},
                                                           {"tokens.key_dir", config.key_dir},
                                                           {"tokens.jwks_file", dir_of(config.jwks_file)}};
      for (const auto& [key, dir] : dirs) {
        std::string err;
        if (!dir.empty() && !writable_dir(dir, err)) {
          std::fprintf(stderr, "%s: %s: %s\n", config_path.c_str(), key, err.c_str());
          ok = false;
        }
      }
      if (!ok) return 1;
      std::printf("%s: ok\n", config_path.c_str());
      return 0;
    }
    if (!command.empty() && command != "migrate" && !runs_as_owner(config)) return 1;  // (migrate writes no file)
    if (command == "rotate") return rotate_keys(config);
    if (command == "set-role") return set_role(config, email, role);
    if (command == "migrate") return migrate_db(config);
    if (command == "import") return import_db(config, from);
    return serve(config);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "spa-authd: %s\n", e.what());
    return 1;
  }
}
