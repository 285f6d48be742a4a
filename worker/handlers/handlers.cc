#include "handlers/handlers.h"

#include <array>
#include <functional>
#include <utility>

#include "handlers/builtin_handlers.h"
#include "handlers/exec_handler.h"
#include "handlers/http_handler.h"
#include "handlers/invocation.h"
#include "handlers/sql_handler.h"
#include "pgq/error.h"

namespace pgq::worker {
namespace {

using Type = HandlerConfig::Type;

// The registry: one factory per handler type.
struct Kind {
  Type type;
  Runner (*make)(const HandlerConfig&, const HandlerDeps&);
};

constexpr std::array<Kind, 6> kKinds = {{
    {Type::kExec, [](const HandlerConfig& c, const HandlerDeps&) { return MakeExecRunner(c); }},
    {Type::kHttp, [](const HandlerConfig& c, const HandlerDeps&) { return MakeHttpRunner(c); }},
    {Type::kSql,
     [](const HandlerConfig& c, const HandlerDeps& deps) { return MakeSqlRunner(c, deps.pool); }},
    {Type::kNoop, [](const HandlerConfig& c, const HandlerDeps&) { return MakeNoopRunner(c); }},
    {Type::kSleep, [](const HandlerConfig& c, const HandlerDeps&) { return MakeSleepRunner(c); }},
    {Type::kFail, [](const HandlerConfig& c, const HandlerDeps&) { return MakeFailRunner(c); }},
}};

Runner MakeRunner(const HandlerConfig& config, const HandlerDeps& deps) {
  for (const Kind& kind : kKinds) {
    if (kind.type == config.type) return kind.make(config, deps);
  }
  throw LogicError("unknown handler type");
}

// One builder for jobs and schedules: `adapt` turns the context (JobContext
// or ScheduleContext) into an Invocation.
template <typename Context>
std::function<void(Context&)> Build(const HandlerConfig& config, const HandlerDeps& deps,
                                    Invocation (*adapt)(const Context&)) {
  Runner runner = MakeRunner(config, deps);
  if (!runner) return [](Context&) {};  // noop: skip building the Invocation
  return [runner = std::move(runner), adapt](Context& ctx) { runner(adapt(ctx)); };
}

}  // namespace

Handler MakeHandler(const HandlerConfig& config, const HandlerDeps& deps) {
  return Build<JobContext>(config, deps, &ForJob);
}

ScheduleHandler MakeScheduleHandler(const HandlerConfig& config, const HandlerDeps& deps) {
  return Build<ScheduleContext>(config, deps, &ForSchedule);
}

}  // namespace pgq::worker
