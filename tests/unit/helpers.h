// Shared by the Check suites: suite constructors and key/token helpers.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/jwk.h"
#include "core/status.h"

// Last: check.h defines macros (fail, ...) that clash with iostreams.
#include <check.h>

Suite* base64url_suite();
Suite* json_suite();
Suite* jws_suite();
Suite* jwk_suite();
Suite* claims_suite();
Suite* verifier_suite();
Suite* token_cache_suite();
Suite* jwks_file_suite();
Suite* authd_config_suite();
Suite* signing_keys_suite();
Suite* authd_core_suite();
Suite* auth_service_suite();
Suite* totp_suite();
Suite* oidc_suite();
Suite* limiter_suite();
Suite* ws_suite();
Suite* account_security_suite();
Suite* http_fields_suite();
Suite* store_suite();
Suite* lifecycle_suite();
Suite* utf8_suite();
Suite* http_edge_suite();
Suite* bulkhead_suite();
Suite* status_suite();
Suite* token_carriers_suite();
Suite* origin_suite();
Suite* metrics_text_suite();
Suite* names_suite();
Suite* module_docs_suite();

namespace test {

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
