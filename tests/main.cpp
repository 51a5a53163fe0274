// The test runner's main (Catch2 2.13); every other file in tests/ holds test cases.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>
