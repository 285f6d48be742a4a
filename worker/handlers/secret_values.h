#pragma once
// Handler values kept in files (env_from_files, headers_from_files): read on
// every use, so a rotated Secret takes effect without a restart.

#include <map>
#include <string>
#include <string_view>

namespace pgq::worker {

/// name -> the content of its file, one trailing newline dropped. Throws
/// std::runtime_error naming `key`, the name and the path (never the
/// content) when a file cannot be read, or when it holds a line break inside.
std::map<std::string, std::string> ReadSecretValues(
    const std::map<std::string, std::string>& files, std::string_view key);

}  // namespace pgq::worker
