// The version header (generated from CMake's project(VERSION)) against the version CMake
// builds with, and the compiled library's version against the header's.
#include <string>

#include "support.hpp"

TEST_CASE("the version macros match the CMake project version", "[core][version]") {
  const std::string from_parts = std::to_string(REWIND_VERSION_MAJOR) + "." +
                                 std::to_string(REWIND_VERSION_MINOR) + "." +
                                 std::to_string(REWIND_VERSION_PATCH);
  CHECK(from_parts == REWIND_PROJECT_VERSION);
  CHECK(std::string(REWIND_VERSION_STRING) == REWIND_PROJECT_VERSION);
  CHECK(REWIND_VERSION ==
        REWIND_VERSION_MAJOR * 10000 + REWIND_VERSION_MINOR * 100 + REWIND_VERSION_PATCH);
  CHECK(rwd::library_version() == REWIND_VERSION_STRING);
}
