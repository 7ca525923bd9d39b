#include "authd/pg_handles.h"

namespace spa::authd::pg {
namespace {

// libpq's messages span lines ("...\n\tThis probably means..."): one
// line for the log.
std::string one_line(std::string m) {
  for (char& ch : m)
    if (ch == '\n' || ch == '\t' || ch == '\r') ch = ' ';
  while (!m.empty() && m.back() == ' ') m.pop_back();
  std::string out;
  for (char ch : m)
    if (!(ch == ' ' && !out.empty() && out.back() == ' ')) out += ch;
  return out;
}

}  // namespace

std::string check_conninfo(const std::string& conninfo) {
  char* why = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &why);
  if (!options) {
    // (libpq's message quotes the part it could not read, which may be a
    // password in a URI: not repeated)
    if (why) PQfreemem(why);
    return "is not a libpq connection string: key=value pairs (host=... dbname=...) or a postgresql:// URI";
  }
  std::string problem;
  for (PQconninfoOption* o = options; o->keyword; ++o)
    if (o->val && *o->val && std::string_view(o->keyword) == "password")
      problem = "holds a password: put it in store.postgresql_password_file (mode 0600), never in the TOML";
    else if (o->val && *o->val && std::string_view(o->keyword) == "sslpassword")
      problem = "holds sslpassword (a client key's passphrase): use a key without one, readable by spa-authd alone";
  PQconninfoFree(options);
  return problem;
}

Conn connect(const std::string& conninfo, const std::string& password, std::string& err) {
  // Later keywords override earlier ones, and the expanded string's do too.
  std::vector<const char*> keys = {"connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval",
                                   "keepalives_count", "tcp_user_timeout", "target_session_attrs",
                                   "application_name", "dbname"};
  std::vector<const char*> values = {"3", "1", "5", "2", "2", "5000", "read-write", "spa-authd", conninfo.c_str()};
  if (!password.empty()) {
    keys.push_back("password");
    values.push_back(password.c_str());
  }
  keys.push_back(nullptr);
  values.push_back(nullptr);
  Conn c(PQconnectdbParams(keys.data(), values.data(), 1));
  if (!c) {
    err = "postgresql: out of memory";
    return nullptr;
  }
  // Notices (CREATE ... IF NOT EXISTS skipping) are not for spa-authd's log.
  PQsetNoticeProcessor(c.get(), [](void*, const char*) {}, nullptr);
  if (PQstatus(c.get()) != CONNECTION_OK) {
    err = "postgresql: " + one_line(PQerrorMessage(c.get()));
    return nullptr;
  }
  return c;
}

std::string describe(PGconn* c, const PGresult* r) {
  std::string state = sqlstate(r);
  const char* primary = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  std::string message = one_line(primary ? primary : (c ? PQerrorMessage(c) : "no result"));
  return "postgresql" + (state.empty() ? std::string() : " " + state) + ": " + message;
}

std::vector<Result> pipeline(PGconn* c, const std::vector<Statement>& statements) {
  std::vector<Result> out;
  if (statements.empty() || PQenterPipelineMode(c) != 1) return out;
  // Out of pipeline mode however this ends (an allocation may throw): a
  // connection left in it would fail every later ordinary statement.
  struct Exit {
    PGconn* c;
    ~Exit() {
      if (PQexitPipelineMode(c) != 1) {
        // (results left unread, or a broken connection: the pool drops a
        // connection that is not idle and out of pipeline mode)
      }
    }
  } exit{c};
  bool sent = true;
  std::vector<const char*> values;
  std::vector<int> lengths;
  for (const Statement& s : statements) {
    values.clear();
    lengths.clear();
    for (const auto& v : s.values) {
      values.push_back(v.data());
      lengths.push_back(static_cast<int>(v.size()));
    }
    int n = static_cast<int>(values.size());
    int ok = s.prepared ? PQsendQueryPrepared(c, s.command.c_str(), n, values.data(), lengths.data(), s.formats.data(),
                                              s.result_format)
                        : PQsendQueryParams(c, s.command.c_str(), n, nullptr, values.data(), lengths.data(),
                                            s.formats.data(), s.result_format);
    if (ok != 1) {
      sent = false;
      break;
    }
  }
  if (sent && PQpipelineSync(c) == 1) {
    // Each statement's result is followed by a null; the sync's result
    // ends the pipeline. Two nulls in a row: nothing more will come.
    int nulls = 0;
    for (size_t reads = 0; reads < 2 * statements.size() + 4 && (PQstatus(c) == CONNECTION_OK || nulls == 0); ++reads) {
      PGresult* r = PQgetResult(c);
      if (!r) {
        if (++nulls > 1) break;
        continue;
      }
      nulls = 0;
      if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
        PQclear(r);
        break;
      }
      out.emplace_back(r);
    }
  }
  if (out.size() > statements.size()) out.resize(statements.size());
  return out;
}

}  // namespace spa::authd::pg
