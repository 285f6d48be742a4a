#include "pgq/version.h"

namespace pgq {

std::string_view Version() noexcept { return PGQ_VERSION_STRING; }

}  // namespace pgq
