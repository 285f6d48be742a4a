#include "runtime/entrypoint_registry.h"

#include "pgq/error.h"

namespace pgq::detail {

void EntrypointRegistry::Add(const std::string& name, Handler handler, EntrypointOptions options) {
  if (name.empty()) throw LogicError("an entrypoint needs a name");
  if (!handler) throw LogicError("entrypoint \"" + name + "\" has no handler");
  if (options.concurrency_limit < 0) {
    throw LogicError("entrypoint \"" + name + "\": concurrency_limit must be >= 0");
  }
  if (options.retry && (options.retry->max_attempts < 0 || options.retry->multiplier < 1.0 ||
                        options.retry->initial_delay.count() < 0 ||
                        options.retry->max_delay < options.retry->initial_delay)) {
    throw LogicError("entrypoint \"" + name +
                     "\": retry needs max_attempts >= 0, multiplier >= 1 and "
                     "0 <= initial_delay <= max_delay");
  }
  if (!entries_.emplace(name, Entry{std::move(handler), options}).second) {
    throw LogicError("entrypoint \"" + name + "\" is already registered");
  }
}

std::vector<EntrypointLimit> EntrypointRegistry::Limits() const {
  std::vector<EntrypointLimit> out;
  for (const auto& [name, entry] : entries_) out.push_back({name, entry.options.concurrency_limit});
  return out;
}

std::vector<std::string> EntrypointRegistry::Names() const {
  std::vector<std::string> out;
  for (const auto& [name, entry] : entries_) out.push_back(name);
  return out;
}

bool EntrypointRegistry::HasLimited() const {
  for (const auto& [name, entry] : entries_) {
    if (entry.options.concurrency_limit > 0) return true;
  }
  return false;
}

}  // namespace pgq::detail
