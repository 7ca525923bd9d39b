#include <cstdlib>

#include "tests/unit/helpers.h"

int main() {
  SRunner* sr = srunner_create(base64url_suite());
  srunner_add_suite(sr, json_suite());
  srunner_add_suite(sr, jws_suite());
  srunner_add_suite(sr, jwk_suite());
  srunner_add_suite(sr, claims_suite());
  srunner_add_suite(sr, verifier_suite());
  srunner_add_suite(sr, token_cache_suite());
  srunner_add_suite(sr, jwks_file_suite());
  srunner_add_suite(sr, authd_config_suite());
  srunner_add_suite(sr, signing_keys_suite());
  srunner_add_suite(sr, authd_core_suite());
  srunner_add_suite(sr, auth_service_suite());
  srunner_add_suite(sr, totp_suite());
  srunner_add_suite(sr, oidc_suite());
  srunner_add_suite(sr, limiter_suite());
  srunner_add_suite(sr, ws_suite());
  srunner_add_suite(sr, account_security_suite());
  srunner_add_suite(sr, http_fields_suite());
  srunner_add_suite(sr, store_suite());
  srunner_add_suite(sr, lifecycle_suite());
  srunner_add_suite(sr, utf8_suite());
  srunner_add_suite(sr, http_edge_suite());
  srunner_add_suite(sr, bulkhead_suite());
  srunner_add_suite(sr, status_suite());
  srunner_add_suite(sr, token_carriers_suite());
  srunner_add_suite(sr, origin_suite());
  srunner_add_suite(sr, metrics_text_suite());
  srunner_add_suite(sr, names_suite());
  srunner_add_suite(sr, module_docs_suite());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
