// RAII for libpq's handles (a connection, a result), and the few calls
// spa-authd makes through them. libpq, not libpqxx: no exceptions to keep
// away from callers that must not throw, and Debian's libpq-dev is all a
// build needs (docs/scale-out.md, "Why libpq").
#pragma once

#include <libpq-fe.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace spa::authd::pg {

struct ConnClose {
  void operator()(PGconn* c) const { PQfinish(c); }
};
struct ResultClear {
  void operator()(PGresult* r) const { PQclear(r); }
};
using Conn = std::unique_ptr<PGconn, ConnClose>;
using Result = std::unique_ptr<PGresult, ResultClear>;

// Connects with `conninfo` (a libpq connection string or URI) and, when
// not empty, `password` (never part of conninfo: it comes from a file).
// spa-authd's defaults come first, so the string may override each:
// connect_timeout 3 s, TCP keepalives and a 5 s user timeout (a peer gone
// without a word is noticed), target_session_attrs=read-write (the primary
// among several hosts), application_name. (The store sets its statement
// timeouts once connected: `db migrate` runs without them.)
// nullptr with `err` when it fails.
Conn connect(const std::string& conninfo, const std::string& password, std::string& err);

// Why conninfo cannot be used ("" when it can): it does not parse, or it
// holds a password (which belongs in [store] postgresql_password_file).
std::string check_conninfo(const std::string& conninfo);

// The SQLSTATE of a failed result ("" when none).
inline std::string sqlstate(const PGresult* r) {
  const char* s = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  return s ? s : "";
}
// A failure for the log: the SQLSTATE and PostgreSQL's primary message
// (never the DETAIL, which can quote the row's values).
std::string describe(PGconn* c, const PGresult* r);

inline bool ok(const PGresult* r) {
  auto s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
  return s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
}

// Runs sql without parameters.
inline Result exec(PGconn* c, const char* sql) { return Result(PQexec(c, sql)); }

// Parameters as bytes (bytea and text alike go in binary: exactly the
// bytes given), results in binary (bytea's raw bytes; integers big-endian).
class Params {
 public:
  Params& add(std::string_view v) {
    values_.push_back(v.data() ? v.data() : "");
    lengths_.push_back(static_cast<int>(v.size()));
    formats_.push_back(1);
    return *this;
  }
  // A text-format parameter (a number or an xid8 written out).
  Params& text(const std::string& v) {
    kept_.push_back(std::make_unique<std::string>(v));
    values_.push_back(kept_.back()->c_str());
    lengths_.push_back(0);
    formats_.push_back(0);
    return *this;
  }
  Result run_prepared(PGconn* c, const char* name, int result_format = 1) const {
    return Result(PQexecPrepared(c, name, static_cast<int>(values_.size()), values_.data(), lengths_.data(),
                                 formats_.data(), result_format));
  }
  Result run(PGconn* c, const char* sql, int result_format = 1) const {
    return Result(PQexecParams(c, sql, static_cast<int>(values_.size()), nullptr, values_.data(), lengths_.data(),
                               formats_.data(), result_format));
  }

 private:
  std::vector<const char*> values_;
  std::vector<int> lengths_, formats_;
  std::vector<std::unique_ptr<std::string>> kept_;
};

// One statement of a pipeline, owning its parameters (bytes in binary,
// or text for numbers written out), results in binary unless said.
struct Statement {
  std::string command;    // a prepared statement's name, or (prepared false) the SQL
  bool prepared = true;
  std::vector<std::string> values;
  std::vector<int> formats;  // per value: 1 binary, 0 text
  int result_format = 1;

  Statement& add(std::string_view v) {
    values.emplace_back(v);
    formats.push_back(1);
    return *this;
  }
  Statement& text(std::string v) {
    values.push_back(std::move(v));
    formats.push_back(0);
    return *this;
  }
};
inline Statement prepared(std::string name) { return Statement{std::move(name), true, {}, {}, 1}; }
inline Statement sql(std::string text) { return Statement{std::move(text), false, {}, {}, 1}; }

// Sends every statement at once in libpq's pipeline mode and reads every
// result, in order: one round trip for all. A statement after a failed
// one (in the same transaction) answers PGRES_PIPELINE_ABORTED. Fewer
// results than statements when the connection failed. The connection is
// in its ordinary mode again afterwards.
std::vector<Result> pipeline(PGconn* c, const std::vector<Statement>& statements);

// A binary result's field as bytes.
inline std::string_view field(const PGresult* r, int row, int col) {
  return {PQgetvalue(r, row, col), static_cast<size_t>(PQgetlength(r, row, col))};
}

}  // namespace spa::authd::pg
