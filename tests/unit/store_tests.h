// Test cases of the store layer kept in their own files and run in the
// "store" suite (tests/unit/test_store.cc).
#pragma once

#include <filesystem>
#include <cstdlib>
#include <string>

#include "tests/unit/helpers.h"

TCase* indexes_tcase();    // tests/unit/test_store_indexes.cc
TCase* interface_tcase();  // tests/unit/test_store_interface.cc
TCase* records_tcase();    // tests/unit/test_records.cc
TCase* migration_tcase();  // tests/unit/test_store_migration.cc

namespace test {

// A fresh directory for a store, removed with the object.
struct StoreDir {
  std::string path;
  StoreDir() {
    char tmpl[] = "/tmp/spa-reader-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~StoreDir() { std::error_code ignored; std::filesystem::remove_all(path, ignored); }
  StoreDir(const StoreDir&) = delete;
  StoreDir& operator=(const StoreDir&) = delete;
};

}  // namespace test
