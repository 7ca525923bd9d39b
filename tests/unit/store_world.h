// The AuthService world the store's tests share (test_store.cc,
// test_store_indexes.cc): sign-ups, counts and lookups in its tables, a
// sweep at a given time, and the module's view of a session.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "authd/auth_service.h"
#include "authd/sweeper.h"
#include "core/session_reader.h"
#include "tests/unit/auth_world.h"
#include "tests/unit/session_user.h"

namespace test {

using namespace spa::authd;
using Lookup = spa::core::SessionReader::Lookup;

struct World : AuthWorld {
  explicit World(uint64_t max_size = Store::kDefaultMaxSize) : AuthWorld(max_size) {}
  Outcome signup_and_login(const std::string& name) {
    signup_verified(name + "@example.com", name, name + " password!");
    return service->login(name + "@example.com", name + " password!", client);
  }
  std::optional<Principal> who(const Outcome& o) {
    std::string why;
    return service->authenticate(o.tokens->access_token, why);
  }
  size_t count(Db db) {
    size_t n = 0;
    store.view([&](const Store::Txn& t) { t.scan(db, "", [&](std::string_view, std::string_view) { return ++n, true; }); });
    return n;
  }
  bool has(Db db, const std::string& key) {
    bool found = false;
    store.view([&](const Store::Txn& t) { found = t.get(db, key).has_value(); });
    return found;
  }
  std::map<std::string, size_t> sweep(int64_t at) {
    Sweeper sweeper(store, SweepSettings{config.access_ttl, config.audit_retention});
    std::map<std::string, size_t> deleted;
    std::string err;
    ck_assert_msg(sweeper.sweep(at, deleted, err), "%s", err.c_str());
    return deleted;
  }
  Lookup module_view(const std::string& sid, int64_t at) {
    spa::core::SessionReader reader;
    std::string err;
    ck_assert_msg(reader.open(dir + "/store", err), "%s", err.c_str());
    return reader.check(sid, session_user(store, sid), at, std::nullopt, err);
  }
};

inline std::string sid_of(const Outcome& o) { return o.data["session_id"].get<std::string>(); }

}  // namespace test
