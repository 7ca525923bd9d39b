// Test cases of the store layer kept in their own files and run in the
// "store" suite (tests/unit/test_store.cc).
#pragma once

#include "tests/unit/helpers.h"

TCase* records_tcase();    // tests/unit/test_records.cc
TCase* migration_tcase();  // tests/unit/test_store_migration.cc
