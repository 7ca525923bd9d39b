// A whole AuthService for unit tests: a temp store and key directory, a
// fake clock (`now`), and a client. Removed with the object.
#pragma once

#include <filesystem>
#include <cstdlib>
#include <functional>
#include <utility>
#include <memory>
#include <string>
#include <vector>

#include "authd/auth_service.h"
#include "authd/crypto.h"
#include "authd/lmdb_store.h"
#include "authd/pg_store.h"
#include "authd/mailer.h"
#include "tests/unit/helpers.h"

namespace test {

// Keeps what the service would have mailed.
struct KeptMail final : spa::authd::MailSender {
  std::vector<std::string> bodies;
  std::vector<std::string> to;
  std::vector<spa::authd::MailClass> classes;
  bool send(const std::string& address, const std::string&, const std::string& body,
            spa::authd::MailClass cls) override {
    bodies.push_back(body);
    to.push_back(address);
    classes.push_back(cls);
    return true;
  }
  // The reset link's token, or the 6-digit code, of the last message.
  std::string token() const {
    const std::string& b = bodies.back();
    size_t at = b.find("#token=") + 7;
    return b.substr(at, b.find('\n', at) - at);
  }
  std::string code() const {
    const std::string& b = bodies.back();
    size_t at = b.find("Your code is ") + 13;
    return b.substr(at, 6);
  }
};

struct AuthWorld {
  std::string dir;
  spa::authd::Config config;
  // The store: LMDB, or with SPA_TEST_STORE=postgresql (`make unit` runs
  // the service suites so too, through tests/unit/with-postgres) a
  // PgStore on the private database in SPA_TEST_PG, emptied first, its
  // mirror where LMDB's would be.
  spa::authd::LmdbStore lmdb;
  std::unique_ptr<spa::authd::PgStore> pg = on_postgresql() ? std::make_unique<spa::authd::PgStore>() : nullptr;
  spa::authd::Store& store = pg ? static_cast<spa::authd::Store&>(*pg) : static_cast<spa::authd::Store&>(lmdb);
  std::unique_ptr<spa::authd::SigningKeys> keys;
  // No queue: the tests call from one thread, and a test that holds every
  // slot (hasher.admission()) sees the next check shed at once.
  spa::authd::PasswordHasher hasher{19456, 2, 1, {0, 1000}};
  int64_t now = 1'800'000'000;
  std::unique_ptr<spa::authd::AuthService> service;
  std::string mfa_key = spa::authd::random_bytes(32);  // [mfa] secret_key_file's: every node of a cluster has the same
  spa::authd::ClientInfo client{"req-1", "192.0.2.7", "agent/1"};
  KeptMail mail;  // what the service mailed, unless a test sets another mailer
  // Runs once, at the service's next look at the clock: a change that
  // lands between a check the service makes outside its write lock (an
  // Argon2 verification) and the write that acts on it.
  std::function<void()> meanwhile;

  int64_t clock() {
    if (meanwhile) std::exchange(meanwhile, nullptr)();
    return now;
  }

  explicit AuthWorld(uint64_t max_size = spa::authd::Store::kDefaultMaxSize) {
    char tmpl[] = "/tmp/spa-service-XXXXXX";
    dir = mkdtemp(tmpl);
    config.issuer = "https://app.example.com";
    config.audience = "spa";
    config.refresh_grace = 10;
    config.key_dir = dir + "/keys";
    config.jwks_file = dir + "/jwks.json";
    std::string err;
    if (pg) {
      empty_test_database();
      spa::authd::PgStore::Options o;
      o.conninfo = std::getenv("SPA_TEST_PG");
      o.max_size = max_size;
      o.mirror_path = dir + "/store";
      // The worlds' clock is fake (2027, then wherever a test moves it):
      // the mirror's confirmation, on the real one, must not go stale.
      o.max_staleness = int64_t{20} * 365 * 86400;
      o.clock = [this] { return now; };
      ck_assert_msg(pg->open(o, err), "%s", err.c_str());
    } else {
      ck_assert_msg(lmdb.open(dir + "/store", err, max_size), "%s", err.c_str());
    }
    keys = std::make_unique<spa::authd::SigningKeys>(spa::authd::SigningKeys::Options{
        config.key_dir, config.jwks_file, config.algorithm, config.access_ttl, 5});
    ck_assert(keys->open(now, err));
    service = std::make_unique<spa::authd::AuthService>(config, store, *keys, hasher, [this] { return clock(); },
                                                        mfa_key);
    // The mail buckets run on the fake clock too (in spa-authd: the monotonic clock).
    service->issuer().outbox().set_clock([this] { return now * 1000000; });
    service->set_mailer(&mail);
  }

  // Who an access token of this world's service names.
  spa::authd::Principal principal(const std::string& access_token) {
    std::string why;
    auto who = service->authenticate(access_token, why);
    ck_assert_msg(who.has_value(), "%s", why.c_str());
    return *who;
  }
  // A sign-up whose address is proven by the link it mailed.
  void signup_verified(const std::string& email, const std::string& username, const std::string& password) {
    size_t before = mail.bodies.size();
    ck_assert(service->signup(email, username, password, client).ok());
    ck_assert_uint_eq(mail.bodies.size(), before + 1);
    ck_assert_msg(service->verify_email_confirm(mail.token(), password, client).ok(), "verification of %s", email.c_str());
  }
  ~AuthWorld() { std::error_code ignored; std::filesystem::remove_all(dir, ignored); }
  AuthWorld(const AuthWorld&) = delete;
  AuthWorld& operator=(const AuthWorld&) = delete;
};

}  // namespace test
