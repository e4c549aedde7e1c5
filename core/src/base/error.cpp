#include <platypos/base/error.hpp>

namespace platypos {
namespace {
constexpr const char* kErrorNames[] = {
#define PLATYPOS_ERROR_NAME(name, value, meaning) #name,
    PLATYPOS_ERRORS(PLATYPOS_ERROR_NAME)
#undef PLATYPOS_ERROR_NAME
};
}  // namespace

const char* error_name(Error e) {
  const auto v = static_cast<u16>(e);
  return v < kErrorCount ? kErrorNames[v] : "unknown_error";
}

}  // namespace platypos
