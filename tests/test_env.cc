// SPDX-License-Identifier: Apache-2.0
// Linked into every test binary: gives TANDEM_BIN, TANDEM_PYTHON and TANDEM_TESTS_DIR (the
// tests/ source folder) their build-time values unless the environment already sets them, so
// tests behave the same under ctest, when run by hand, and elsewhere with the variables set.
#include <cstdlib>

namespace {

struct TestEnvironment {
  TestEnvironment() {
    ::setenv("TANDEM_BIN", TANDEM_DEFAULT_BIN, 0);
    ::setenv("TANDEM_TESTS_DIR", TANDEM_DEFAULT_TESTS_DIR, 0);
    if (TANDEM_DEFAULT_PYTHON[0] != '\0') ::setenv("TANDEM_PYTHON", TANDEM_DEFAULT_PYTHON, 0);
  }
};

const TestEnvironment kEnvironment;

}  // namespace
