// The compiled library's version: the header's string, fixed when the library is built.
#include "rewind/core/version.hpp"

namespace rwd {

std::string_view library_version() noexcept {
  return REWIND_VERSION_STRING;
}

}  // namespace rwd
