#include "handlers/builtin_handlers.h"

#include <stdexcept>

#include "util/sleep.h"

namespace pgq::worker {

Runner MakeNoopRunner(const HandlerConfig&) { return {}; }

Runner MakeSleepRunner(const HandlerConfig& config) {
  return [duration = config.duration](const Invocation& inv) {
    SleepUnlessStopped(duration, inv.stop);
  };
}

Runner MakeFailRunner(const HandlerConfig& config) {
  return [message = config.message](const Invocation&) { throw std::runtime_error(message); };
}

}  // namespace pgq::worker
