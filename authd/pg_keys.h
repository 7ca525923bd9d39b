// The signing keys of a cluster in PostgreSQL (KeyVault, authd/
// signing_keys.h): every node signs with the same keys and writes the same
// JWKS. The private keys are sealed (AES-256-GCM, authd/crypto.h) under
// the key-encryption key of [tokens] key_encryption_key_file, a file every
// node holds and the database never sees; the schedule is plain. A change
// (a first key, a rotation, expired keys dropped) is one transaction under
// an advisory lock: one node at a time rotates, and a stamp (a version
// number) tells the others to reload and publish.
#pragma once

#include <mutex>
#include <string>

#include "authd/pg_handles.h"
#include "authd/signing_keys.h"

namespace spa::authd {

class PgKeyVault final : public KeyVault {
 public:
  // `kek`: 32 bytes.
  PgKeyVault(std::string conninfo, std::string password, std::string kek);

  // The kids of the keys in the database (none before any spa-authd of the
  // cluster started): what `db import` checks before moving a machine in.
  static bool kids(const std::string& conninfo, const std::string& password, std::vector<std::string>& out,
                   std::string& err);

  bool update(const Change& fn, std::string& stamp, std::string& err) override;
  bool stamp(std::string& out, std::string& err) override;
  bool read(std::vector<Stored>& out, bool& exists, std::string& err) override;

 private:
  // The vault's connection (made again after a failure); under mu_.
  PGconn* connection(std::string& err);
  bool read_locked(PGconn* c, std::vector<Stored>& out, std::string& err);
  bool failed(PGconn* c, const PGresult* r, const std::string& what, std::string& err);

  std::string conninfo_, password_, kek_;
  std::mutex mu_;
  pg::Conn conn_;
};

}  // namespace spa::authd
