#pragma once
// The entrypoints a QueueManager consumes: handlers and options, checked on
// registration. Filled before Run() and only read while it runs.

#include <map>
#include <string>
#include <vector>

#include "pgq/queries.h"
#include "pgq/runtime.h"

namespace pgq::detail {

class EntrypointRegistry {
 public:
  struct Entry {
    Handler handler;
    EntrypointOptions options;
  };

  /// Throws LogicError on a duplicate name or bad options.
  void Add(const std::string& name, Handler handler, EntrypointOptions options);
  /// The entry of a claimed job (claims only return registered names).
  const Entry& At(const std::string& name) const { return entries_.at(name); }
  bool empty() const noexcept { return entries_.empty(); }

  std::vector<EntrypointLimit> Limits() const;
  std::vector<std::string> Names() const;
  /// Whether any entrypoint has a fleet-wide concurrency limit.
  bool HasLimited() const;

 private:
  std::map<std::string, Entry> entries_;
};

}  // namespace pgq::detail
