// (authd's headers before Check's: check.h defines a macro `fail`)
#include "authd/pg_handles.h"
#include "authd/pg_store.h"
#include "tests/unit/helpers.h"

#include <map>

#include <cstdlib>

#include "core/base64url.h"
#include "core/jws.h"

namespace test {
namespace {

// Built on first use: registrations run during static initialisation, in
// an order across files nobody chooses.
std::map<std::string, SuiteMaker>& suites() {
  static std::map<std::string, SuiteMaker> all;
  return all;
}

}  // namespace

bool on_postgresql() {
  const char* s = std::getenv("SPA_TEST_STORE");
  return s && std::string_view(s) == "postgresql";
}

void empty_test_database() {
  const char* conninfo = std::getenv("SPA_TEST_PG");
  ck_assert_msg(conninfo, "SPA_TEST_STORE=postgresql needs SPA_TEST_PG (run through tests/unit/with-postgres)");
  spa::authd::PgStore::Options o;
  o.conninfo = conninfo;
  std::string report, err;
  ck_assert_msg(spa::authd::PgStore::migrate(o, report, err), "%s", err.c_str());
  auto c = spa::authd::pg::connect(conninfo, "", err);
  ck_assert_msg(c, "%s", err.c_str());
  std::string sql = "TRUNCATE spa_session_changes, spa_duties";
  for (int i = 0; i < spa::authd::kDbCount; ++i) sql += std::string(", spa_") + spa::authd::db_name(static_cast<spa::authd::Db>(i));
  sql += " RESTART IDENTITY; UPDATE spa_feed_state SET horizon = '0', passed_at = '-infinity'";
  auto r = spa::authd::pg::exec(c.get(), sql.c_str());
  ck_assert_msg(spa::authd::pg::ok(r.get()), "%s", spa::authd::pg::describe(c.get(), r.get()).c_str());
}

bool register_suite(const char* name, SuiteMaker make) { return suites().emplace(name, make).second; }

std::vector<SuiteMaker> registered_suites() {
  std::vector<SuiteMaker> out;
  for (const auto& [name, make] : suites()) out.push_back(make);
  return out;
}

using namespace spa::core;

JwkPtr make_key(KeyKind kind) {
  EVP_PKEY* raw = nullptr;
  switch (kind) {
    case KeyKind::kEd25519: raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519"); break;
    case KeyKind::kP256: raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"); break;
    case KeyKind::kP384: raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-384"); break;
    case KeyKind::kRsa: raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}); break;
    case KeyKind::kHmac: {
      std::string err;
      return jwk_from_hmac_secret(std::string(32, 'k'), err);
    }
  }
  auto k = std::make_shared<Jwk>();
  k->pkey.reset(raw);
  k->kind = kind;
  k->has_private = true;
  k->thumbprint = jwk_thumbprint(*k);
  k->kid = k->thumbprint;
  return k;
}

JwkPtr public_of(const Jwk& k) {
  std::string err;
  bool skip = false;
  return jwk_from_json(jwk_public_json(k), err, skip);
}

std::string mint(const Jwk& key, Alg alg, const nlohmann::json& claims, const nlohmann::json& extra_header) {
  auto token = make_compact_jws(extra_header, claims.dump(), alg, key);
  ck_assert_msg(token.has_value(), "signing failed");
  return *token;
}

std::string flip_signature_bit(const std::string& token, size_t bit) {
  size_t dot = token.rfind('.');
  std::string sig;
  ck_assert(base64url_decode(token.substr(dot + 1), sig));
  sig[(bit / 8) % sig.size()] ^= static_cast<char>(1 << (bit % 8));
  return token.substr(0, dot + 1) + base64url_encode(sig);
}

std::string truncate_signature(const std::string& token, size_t drop_chars) {
  std::string t = token.substr(0, token.size() - drop_chars);
  // Keep the encoding itself valid so the signature check, not the
  // decoder, is what refuses it.
  while ((t.size() - t.rfind('.') - 1) % 4 == 1) t.pop_back();
  return t;
}

std::vector<Status> all_statuses() {
  std::vector<Status> out;
  for (int i = 0; status_name(static_cast<Status>(i)) != "unknown"; ++i) out.push_back(static_cast<Status>(i));
  return out;
}

}  // namespace test
