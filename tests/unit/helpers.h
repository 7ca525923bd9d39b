// Shared by the Check suites: suite constructors and key/token helpers.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/jwk.h"
#include "core/status.h"

// Last: check.h defines macros (fail, ...) that clash with iostreams.
#include <check.h>

// Suites register themselves: after its suite function, a test file says
// REGISTER_SUITE(name_suite); main.cc runs every registered suite.
#define REGISTER_SUITE(make) [[maybe_unused]] static const bool make##_registered = test::register_suite(#make, make)


namespace test {

using SuiteMaker = Suite* (*)();
// Adds a suite to those main.cc runs (in the order of their names, so a
// run does not depend on the order of static initialisation).
bool register_suite(const char* name, SuiteMaker make);
// Every registered suite, ordered by name.
std::vector<SuiteMaker> registered_suites();

// SPA_TEST_STORE=postgresql: the worlds' stores are PostgreSQL's, on the
// private database whose connection string SPA_TEST_PG holds
// (tests/unit/with-postgres).
bool on_postgresql();
// Brings that database's schema to this build's (spa-authd db migrate)
// and empties every table of spa-auth's.
void empty_test_database();

// A fresh private key of the given kind (kid = its thumbprint).
spa::core::JwkPtr make_key(spa::core::KeyKind kind);

// The public half as a JWKS key object would carry it.
spa::core::JwkPtr public_of(const spa::core::Jwk& k);

// A signed token over `claims` with header {"alg", "kid"} (plus `extra_header`).
std::string mint(const spa::core::Jwk& key, spa::core::Alg alg, const nlohmann::json& claims,
                 const nlohmann::json& extra_header = nlohmann::json::object());

// Token helpers for negative tests.
std::string flip_signature_bit(const std::string& token, size_t bit);
std::string truncate_signature(const std::string& token, size_t drop_chars);

// Every core::Status in order: the status table's lines up to its fallback,
// so a status added to the table is here without a list to update.
std::vector<spa::core::Status> all_statuses();

}  // namespace test
