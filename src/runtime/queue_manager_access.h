#pragma once
// The internal way to build a QueueManager over any RuntimeStore (tests use
// an in-memory one). Not part of the public API.

#include <memory>
#include <string>

#include "pgq/runtime.h"
#include "runtime/runtime_store.h"

namespace pgq::detail {

struct QueueManagerAccess {
  static std::unique_ptr<QueueManager> WithStore(std::unique_ptr<RuntimeStore> store,
                                                 DBSettings settings, std::string channel = {},
                                                 std::shared_ptr<Resources> resources = nullptr,
                                                 std::shared_ptr<Observer> observer = nullptr);
};

}  // namespace pgq::detail
