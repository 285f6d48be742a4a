#pragma once
// The one place where libpqxx exceptions become pgq exceptions.

#include <string_view>

namespace pgq::detail {

/// Rethrows the exception in flight as a pgq::Error subclass. `context` is
/// prepended to the message and must not contain secrets. Call only from a
/// catch block.
[[noreturn]] void RethrowAsPgq(std::string_view context);

/// RethrowAsPgq for a failure of an autocommit statement that was sent: a
/// connection lost before its result arrived is an InDoubtError (it may have
/// committed), not a plain ConnectionError.
[[noreturn]] void RethrowStatementAsPgq(std::string_view context);

}  // namespace pgq::detail
