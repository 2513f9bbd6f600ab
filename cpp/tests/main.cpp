// Entry point of the native test binary (doctest). The tests check the core's units directly, with
// no Python in between, so that the sanitizers see the C++ alone; run them through CTest
// (scripts/native_tests.sh).
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
