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
