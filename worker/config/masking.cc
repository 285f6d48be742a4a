#include "config/masking.h"

#include <algorithm>
#include <vector>

#include "util/text.h"

namespace pgq::worker {

bool IsSensitiveName(std::string_view name) {
  static const std::vector<std::string_view> kMarkers = {"pass",   "secret",     "token",   "auth",     "key",
                                "cookie", "credential", "session", "signature"};
  const std::string lowered = AsciiLower(name);
  for (std::string_view marker : kMarkers) {
    if (lowered.find(marker) != std::string::npos) return true;
  }
  return false;
}

std::string MaskUrl(std::string_view url) {
  std::string out(url);
  const std::size_t scheme = out.find("://");
  if (scheme != std::string::npos) {
    const std::size_t start = scheme + 3;
    const std::size_t end = std::min(out.find_first_of("/?#", start), out.size());
    const std::size_t at = out.rfind('@', end == 0 ? 0 : end - 1);
    if (at != std::string::npos && at >= start) {
      const std::size_t colon = out.find(':', start);
      if (colon != std::string::npos && colon < at) {
        out.replace(colon + 1, at - colon - 1, kMask);
      }
    }
  }
  const std::size_t query = out.find('?');
  if (query == std::string::npos) return out;
  std::string masked = out.substr(0, query + 1);
  std::size_t pos = query + 1;
  while (pos <= out.size()) {
    std::size_t next = out.find_first_of("&#", pos);
    if (next == std::string::npos) next = out.size();
    const std::string param = out.substr(pos, next - pos);
    const std::size_t eq = param.find('=');
    if (eq != std::string::npos && IsSensitiveName(param.substr(0, eq))) {
      masked += param.substr(0, eq + 1) + std::string(kMask);
    } else {
      masked += param;
    }
    if (next == out.size()) break;
    masked += out[next];
    if (out[next] == '#') {
      masked += out.substr(next + 1);
      break;
    }
    pos = next + 1;
  }
  return masked;
}

std::string MaskArgument(std::string_view arg) {
  for (char separator : {'=', ':'}) {
    const std::size_t pos = arg.find(separator);
    if (pos == std::string_view::npos || pos == 0) continue;
    const std::string_view name = arg.substr(0, pos);
    if (name.find_first_of(" /") != std::string_view::npos) continue;
    if (IsSensitiveName(name)) {
      return std::string(arg.substr(0, pos + 1)) + (separator == ':' ? " " : "") +
             std::string(kMask);
    }
  }
  return std::string(arg);
}

}  // namespace pgq::worker
