// CTest runs each Catch test case by name (catch_discover_tests), and CMake splits a name at
// ';': a test case whose name holds one would run as a filter that matches nothing, and pass.
#include "support.hpp"

TEST_CASE("no test case name contains a semicolon", "[meta]") {
  const auto& tests = Catch::getRegistryHub().getTestCaseRegistry().getAllTests();
  REQUIRE(tests.size() > 100);
  for (const Catch::TestCase& t : tests) {
    INFO("test case: " << t.name);
    CHECK(t.name.find(';') == std::string::npos);
  }
}

// catch_discover_tests passes the names through a CMake list, where an unclosed '[' (as in
// "[0, 1)") swallows the separators after it: every later test merges into one ctest entry.
TEST_CASE("every opening square bracket in a test case name is closed", "[meta]") {
  for (const Catch::TestCase& t : Catch::getRegistryHub().getTestCaseRegistry().getAllTests()) {
    INFO("test case: " << t.name);
    int open = 0;
    bool closed_before_open = false;
    for (char ch : t.name) {
      if (ch == '[') ++open;
      if (ch == ']' && --open < 0) closed_before_open = true;
    }
    CHECK(open == 0);
    CHECK_FALSE(closed_before_open);
  }
}
