#include "authd/pg_keys.h"

#include <algorithm>

#include "authd/crypto.h"

namespace spa::authd {
namespace {

constexpr int64_t kKeysLock = 0x5350410003;  // (pg_store.cc's locks are ...01, ...02)

std::string aad(const std::string& kid) { return "spa-auth signing key " + kid; }

}  // namespace

PgKeyVault::PgKeyVault(std::string conninfo, std::string password, std::string kek)
    : conninfo_(std::move(conninfo)), password_(std::move(password)), kek_(std::move(kek)) {}

PGconn* PgKeyVault::connection(std::string& err) {
  if (conn_ && PQstatus(conn_.get()) == CONNECTION_OK) return conn_.get();
  conn_ = pg::connect(conninfo_, password_, err);
  if (!conn_) return nullptr;
  pg::Result r = pg::exec(conn_.get(), "SET statement_timeout = 5000; SET lock_timeout = 5000;"
                                       " SET idle_in_transaction_session_timeout = 10000");
  if (!pg::ok(r.get())) {
    err = pg::describe(conn_.get(), r.get());
    conn_.reset();
    return nullptr;
  }
  return conn_.get();
}

// (the connection stays: connection() makes another once it is bad)
bool PgKeyVault::failed(PGconn* c, const PGresult* r, const std::string& what, std::string& err) {
  err = "signing keys in PostgreSQL: " + what + ": " + pg::describe(c, r);
  if (PQtransactionStatus(c) != PQTRANS_IDLE) pg::exec(c, "ROLLBACK");
  return false;
}

bool PgKeyVault::read_locked(PGconn* c, std::vector<Stored>& out, std::string& err) {
  out.clear();
  pg::Result r = pg::Params().run(
      c, "SELECT kid, alg, active_from::text, retired_at::text, sealed FROM spa_signing_keys ORDER BY active_from, kid");
  if (!pg::ok(r.get())) return failed(c, r.get(), "reading", err);
  for (int i = 0; i < PQntuples(r.get()); ++i) {
    Stored s;
    s.schedule.kid = std::string(pg::field(r.get(), i, 0));
    auto alg = core::alg_from_name(std::string(pg::field(r.get(), i, 1)));
    if (!alg) {
      err = "signing keys in PostgreSQL: key " + s.schedule.kid + " has an unknown alg";
      return false;
    }
    s.schedule.alg = *alg;
    s.schedule.active_from = std::strtoll(std::string(pg::field(r.get(), i, 2)).c_str(), nullptr, 10);
    s.schedule.retired_at = std::strtoll(std::string(pg::field(r.get(), i, 3)).c_str(), nullptr, 10);
    auto pem = open_sealed(kek_, pg::field(r.get(), i, 4), aad(s.schedule.kid));
    if (!pem) {
      err = "signing key " + s.schedule.kid + " in PostgreSQL does not open with tokens.key_encryption_key_file: "
            "every node needs the same file (copy it from the node that made the keys)";
      return false;
    }
    s.pem = std::move(*pem);
    out.push_back(std::move(s));
  }
  return true;
}

bool PgKeyVault::kids(const std::string& conninfo, const std::string& password, std::vector<std::string>& out,
                      std::string& err) {
  out.clear();
  pg::Conn c = pg::connect(conninfo, password, err);
  if (!c) return false;
  pg::Result r = pg::exec(c.get(), "SELECT kid FROM spa_signing_keys ORDER BY kid");
  if (!pg::ok(r.get())) {
    err = "signing keys in PostgreSQL: " + pg::describe(c.get(), r.get());
    return false;
  }
  for (int i = 0; i < PQntuples(r.get()); ++i) out.emplace_back(pg::field(r.get(), i, 0));
  return true;
}

bool PgKeyVault::read(std::vector<Stored>& out, bool& exists, std::string& err) {
  std::lock_guard lock(mu_);
  PGconn* c = connection(err);
  if (!c || !read_locked(c, out, err)) return false;
  exists = !out.empty();
  return true;
}

namespace {
constexpr const char* kStampSql =
    "SELECT CASE WHEN EXISTS (SELECT 1 FROM spa_signing_keys) THEN version::text ELSE '' END FROM spa_key_state";
}

bool PgKeyVault::stamp(std::string& out, std::string& err) {
  std::lock_guard lock(mu_);
  // Twice at most: an idle connection the server closed (a restart) is
  // found dead only by using it.
  for (int attempt = 0; attempt < 2; ++attempt) {
    PGconn* c = connection(err);
    if (!c) return false;
    pg::Result r = pg::exec(c, kStampSql);
    if (pg::ok(r.get()) && PQntuples(r.get()) == 1) {
      out = PQgetvalue(r.get(), 0, 0);
      return true;
    }
    failed(c, r.get(), "version", err);
    if (PQstatus(c) == CONNECTION_OK) return false;
  }
  return false;
}

bool PgKeyVault::update(const Change& fn, std::string& stamp_out, std::string& err) {
  std::lock_guard lock(mu_);
  PGconn* c = connection(err);
  if (!c) return false;
  pg::Result r = pg::exec(c, "BEGIN");
  if (pg::ok(r.get())) r = pg::exec(c, ("SELECT pg_advisory_xact_lock(" + std::to_string(kKeysLock) + ")").c_str());
  if (!pg::ok(r.get())) return failed(c, r.get(), "locking", err);
  std::vector<Stored> current;
  if (!read_locked(c, current, err)) {  // (a key that does not open: the transaction, and its lock, end here too)
    if (PQtransactionStatus(c) != PQTRANS_IDLE) pg::exec(c, "ROLLBACK");
    return false;
  }
  r = pg::exec(c, "SELECT version FROM spa_key_state");
  if (!pg::ok(r.get()) || PQntuples(r.get()) != 1) return failed(c, r.get(), "version", err);
  const std::string version = PQgetvalue(r.get(), 0, 0);
  // Keys there were, and are gone (the table emptied, a wrong restore):
  // never a first start, which would unpublish the keys of every live token.
  if (current.empty() && version != "0") {
    pg::exec(c, "ROLLBACK");
    err = "the signing keys are gone from the database (its key version is " + version +
          "): restore them; spa-authd makes a first key only in a database that never had any";
    return false;
  }
  std::optional<std::vector<Stored>> next;
  err.clear();
  try {
    next = fn(current, err);
  } catch (...) {
    pg::exec(c, "ROLLBACK");
    throw;
  }
  if (!next) {
    pg::exec(c, "ROLLBACK");
    stamp_out = current.empty() ? "" : version;
    return err.empty();
  }
  auto find = [](const std::vector<Stored>& set, const std::string& kid) {
    return std::find_if(set.begin(), set.end(), [&](const Stored& s) { return s.schedule.kid == kid; });
  };
  for (const auto& s : current)
    if (find(*next, s.schedule.kid) == next->end()) {
      r = pg::Params().text(s.schedule.kid).run(c, "DELETE FROM spa_signing_keys WHERE kid = $1", 0);
      if (!pg::ok(r.get())) return failed(c, r.get(), "dropping " + s.schedule.kid, err);
    }
  for (const auto& s : *next) {
    auto was = find(current, s.schedule.kid);
    if (was == current.end()) {
      r = pg::Params()
              .text(s.schedule.kid)
              .text(std::string(core::alg_name(s.schedule.alg)))
              .text(std::to_string(s.schedule.active_from))
              .text(std::to_string(s.schedule.retired_at))
              .add(seal(kek_, s.pem, aad(s.schedule.kid)))
              .run(c, "INSERT INTO spa_signing_keys (kid, alg, active_from, retired_at, sealed)"
                      " VALUES ($1, $2, $3::bigint, $4::bigint, $5)", 0);
    } else if (was->schedule.retired_at != s.schedule.retired_at) {
      r = pg::Params()
              .text(s.schedule.kid)
              .text(std::to_string(s.schedule.retired_at))
              .run(c, "UPDATE spa_signing_keys SET retired_at = $2::bigint WHERE kid = $1", 0);
    } else {
      continue;
    }
    if (!pg::ok(r.get())) return failed(c, r.get(), "writing " + s.schedule.kid, err);
  }
  r = pg::exec(c, "UPDATE spa_key_state SET version = version + 1 RETURNING version::text");
  std::string bumped = pg::ok(r.get()) && PQntuples(r.get()) == 1 ? PQgetvalue(r.get(), 0, 0) : "";
  if (pg::ok(r.get())) r = pg::exec(c, "COMMIT");
  if (!pg::ok(r.get())) return failed(c, r.get(), "committing", err);
  stamp_out = next->empty() ? "" : bumped;
  return true;
}

}  // namespace spa::authd
