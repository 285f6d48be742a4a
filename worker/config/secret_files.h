#pragma once
// Reading files named by the configuration (the config file itself and the
// mounted secret files). Never logs or returns content in errors.

#include <string>

namespace pgq::worker {

/// Reads a whole file. Returns the errno value on failure, 0 on success.
int ReadWholeFile(const std::string& path, std::string& out);

/// Password file content: one trailing newline (LF or CRLF) is not part of it.
std::string TrimPassword(std::string text);

}  // namespace pgq::worker
