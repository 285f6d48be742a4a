#pragma once
// The one place where libpqxx exceptions become pgq exceptions.

#include <string_view>

namespace pgq::detail {

/// Rethrows the exception in flight as a pgq::Error subclass. `context` is
/// prepended to the message and must not contain secrets. Call only from a
/// catch block.
[[noreturn]] void RethrowAsPgq(std::string_view context);

}  // namespace pgq::detail
