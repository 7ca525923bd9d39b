// Runs every suite that registered itself (REGISTER_SUITE in its file).
#include <cstdlib>

#include "tests/unit/helpers.h"

int main() {
  auto makers = test::registered_suites();
  if (makers.empty()) return EXIT_FAILURE;
  SRunner* sr = srunner_create(makers.front()());
  for (size_t i = 1; i < makers.size(); ++i) srunner_add_suite(sr, makers[i]());
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
