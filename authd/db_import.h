// `spa-authd db import`: a single machine's LMDB store (the directory of
// its [store] private_path) copied into another store, PostgreSQL's, to
// move an installation to a cluster (docs/scale-out.md, "Moving from one
// machine"). Every table key for key and byte for byte, in one transaction
// of the target, then the schema's indexes brought up to date as any open
// does (prepare_schema): the target holds all of it or nothing.
//
// Refused with nothing written when the source is not a whole store of
// this schema version (the sessions mirror at [store] path is not one),
// or when the target already holds any record (an import run twice, or
// onto a cluster in use: two sets of accounts must not merge silently),
// or when [mfa] secret_key_file does not open the source's TOTP seeds.
// The source is read in one LMDB read transaction (a snapshot); when it
// was written meanwhile (a daemon still running on it) nothing is
// imported: what came after the snapshot, a logout say, would be lost.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "authd/store.h"

namespace spa::authd {

struct ImportOptions {
  // [mfa] secret_key_file's 32 bytes: the first sealed TOTP seed of the
  // source must open with it, or nothing is imported (the cluster's file
  // is not the old machine's: every TOTP would fail).
  std::string mfa_key;
  // [store] max_size: past it (the records' bytes alone; PostgreSQL's
  // measure, with indexes and row headers, is larger), the import is kept
  // with a warning (ordinary writes are then refused until it is raised).
  uint64_t max_size = 0;
};

struct ImportResult {
  std::array<uint64_t, kDbCount> rows{};  // records copied, per table (Db's order)
  uint64_t bytes = 0;                     // their keys' and values' bytes
  std::string error;                      // "" when the import committed
  std::vector<std::string> warnings;      // what the operator should know of a committed import
};

ImportResult import_lmdb_store(const std::string& dir, Store& into, const ImportOptions& options);

}  // namespace spa::authd
