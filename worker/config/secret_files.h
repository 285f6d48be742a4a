#pragma once
// Reading files named by the configuration (the config file itself and the
// mounted secret files). Never logs or returns content in errors.

#include <string>

namespace pgq::worker {

/// Reads a whole file. Returns the errno value on failure, 0 on success.
int ReadWholeFile(const std::string& path, std::string& out);

/// Password file content: one trailing newline (LF or CRLF) is not part of it.
std::string TrimPassword(std::string text);

/// Why libpq would refuse `path` as a client key (empty when it would not):
/// a key owned by this user must have no group or other bits (0600 or less),
/// a root-owned one (a Kubernetes Secret with fsGroup) at most 0640.
std::string KeyFilePermissionProblem(const std::string& path);

}  // namespace pgq::worker
