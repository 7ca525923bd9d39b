// Store size over a million refresh rotations with the sweeper on: the
// real AuthService and Store (libspa_authd.a) on a fake clock, so a million
// rotations cover weeks of simulated time in a minute or two.
//
//   spa-store-bench DIR [ROTATIONS] [SESSIONS] [nosweep]
//
// SESSIONS sessions (default 200) each rotate every access_ttl (5 min);
// one rotation in 500 ends its session (logout) and logs in a new one; the
// sweeper runs every simulated 10 minutes. refresh_ttl is 1 h and audit
// retention 1 day, so the store should reach its steady state within the
// first simulated day and then stay flat. Prints the size at intervals and
// the ratio of the last to the first steady-state sample.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "authd/auth_service.h"
#include "authd/crypto.h"
#include "authd/signing_keys.h"
#include "authd/lmdb_store.h"
#include "authd/sweeper.h"

using namespace spa::authd;

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DIR [ROTATIONS] [SESSIONS] [nosweep]\n", argv[0]);
    return 2;
  }
  std::string dir = argv[1];
  long rotations = argc > 2 ? std::atol(argv[2]) : 1000000;
  int sessions = argc > 3 ? std::atoi(argv[3]) : 200;
  bool sweeping = !(argc > 4 && std::string(argv[4]) == "nosweep");  // the contrast: what the sweeper saves
  Config config;
  config.issuer = "https://app.example.com";
  config.access_ttl = 300;
  config.refresh_ttl = 3600;
  config.audit_retention = 86400;
  config.key_dir = dir + "/keys";
  config.jwks_file = dir + "/jwks.json";
  int64_t now = 1'800'000'000;
  std::string err;
  LmdbStore store;
  if (!store.open(dir + "/store", err)) return std::fprintf(stderr, "%s\n", err.c_str()), 1;
  SigningKeys keys({config.key_dir, config.jwks_file, config.algorithm, config.access_ttl, 5});
  if (!keys.open(now, err)) return std::fprintf(stderr, "%s\n", err.c_str()), 1;
  PasswordHasher hasher(64, 1, 1);  // cheap: this measures the store, not Argon2
  AuthService service(config, store, keys, hasher, [&now] { return now; }, random_bytes(32));
  Sweeper sweeper(store, SweepSettings{config.access_ttl, config.audit_retention});
  ClientInfo client{"bench", "192.0.2.1", "bench/1"};

  std::vector<std::string> tokens(sessions);
  for (int i = 0; i < sessions; ++i) {
    std::string name = "user" + std::to_string(i);
    service.signup(name + "@example.com", name, name + " password!", client);
    tokens[i] = service.login(name + "@example.com", name + " password!", client).tokens->refresh_token;
  }
  const int64_t step_ms = config.access_ttl * 1000 / sessions;  // each session rotates every access_ttl
  int64_t clock_ms = now * 1000, next_sweep = now + 600;
  long sample_every = rotations / 20 > 0 ? rotations / 20 : 1;
  uint64_t first = 0, last = 0;
  std::printf("%10s %12s %14s %14s\n", "rotations", "sim. days", "used bytes", "file bytes");
  for (long n = 1; n <= rotations; ++n) {
    int i = static_cast<int>(n % sessions);
    clock_ms += step_ms;
    now = clock_ms / 1000;
    Outcome o = service.refresh(tokens[i], client);
    if (!o.ok() || !o.tokens) return std::fprintf(stderr, "rotation %ld failed: %s\n", n, o.code.c_str()), 1;
    tokens[i] = o.tokens->refresh_token;
    if (n % 500 == 0) {  // a session ends, another starts
      service.logout(std::nullopt, tokens[i], client);
      std::string name = "user" + std::to_string(i);
      tokens[i] = service.login(name + "@example.com", name + " password!", client).tokens->refresh_token;
    }
    if (sweeping && now >= next_sweep) {
      std::map<std::string, size_t> deleted;
      if (!sweeper.sweep(now, deleted, err)) return std::fprintf(stderr, "sweep: %s\n", err.c_str()), 1;
      next_sweep = now + 600;
    }
    if (n % sample_every == 0) {
      Store::Usage u = store.usage();
      std::printf("%10ld %12.1f %14llu %14llu\n", n, (now - 1'800'000'000) / 86400.0,
                  static_cast<unsigned long long>(u.used_bytes), static_cast<unsigned long long>(u.file_bytes));
      std::fflush(stdout);
      if (n / sample_every == 2) first = u.used_bytes;  // past the first simulated day: steady state
      last = u.used_bytes;
    }
  }
  if (first) std::printf("used bytes, end / start of steady state: %.3f\n", static_cast<double>(last) / first);
  return 0;
}
