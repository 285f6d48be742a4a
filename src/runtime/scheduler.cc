#include <algorithm>
#include <condition_variable>
#include <map>
#include <set>
#include <thread>

#include <spdlog/spdlog.h>

#include "pgq/error.h"
#include "pgq/scheduler.h"

namespace pgq {

using namespace std::chrono_literals;

struct Scheduler::Impl {
  struct Entry {
    std::string name;
    CronExpression cron;
    ScheduleHandler handler;
    bool clean_old;
  };
  Impl(Driver& d, DBSettings s, std::shared_ptr<Resources> r, std::shared_ptr<Observer> o)
      : driver(d),
        queries(driver, std::move(s)),
        resources(r ? std::move(r) : std::make_shared<Resources>()),
        observer(o ? std::move(o) : std::make_shared<Observer>()) {}

  Driver& driver;
  Queries queries;
  std::shared_ptr<Resources> resources;
  std::shared_ptr<Observer> observer;
  std::vector<Entry> entries;
  std::atomic<bool> stop{false};
  std::atomic<std::int64_t> polls{0};
  std::mutex mu;
  std::condition_variable cv;
  std::set<std::int64_t> running;  // schedule ids being run; guarded by mu
  struct RunThread {
    std::shared_ptr<std::atomic<bool>> done;
    std::jthread thread;
  };
  std::vector<RunThread> runs;  // guarded by mu

  /// Every entry with the time from `now` to its next run.
  std::vector<ScheduleSlot> Slots(Clock::time_point now) const {
    std::vector<ScheduleSlot> out;
    for (const auto& e : entries) {
      out.push_back({e.name, e.cron.text(),
                     std::chrono::duration_cast<std::chrono::microseconds>(e.cron.Next(now) - now)});
    }
    return out;
  }
  /// Tells the observer each registered schedule's next run as `rows` (from
  /// the database) have it; a name with several expressions reports the
  /// earliest. Rows of schedules this scheduler does not run are ignored.
  void ReportNextRuns(const std::vector<ScheduleRow>& rows) const {
    std::map<std::string, Clock::time_point> earliest;
    for (const auto& row : rows) {
      const bool ours = std::any_of(entries.begin(), entries.end(), [&](const Entry& e) {
        return e.name == row.entrypoint && e.cron.text() == row.expression;
      });
      if (!ours) continue;
      auto [it, inserted] = earliest.emplace(row.entrypoint, row.next_run);
      if (!inserted) it->second = std::min(it->second, row.next_run);
    }
    for (const auto& [name, when] : earliest) observer->OnScheduleNextRun(name, when);
  }
  void Sleep(std::chrono::milliseconds d) {
    std::unique_lock lock(mu);
    cv.wait_for(lock, d, [&] { return stop.load(); });
  }
};

Scheduler::Scheduler(Driver& driver, DBSettings settings, std::shared_ptr<Resources> resources,
                     std::shared_ptr<Observer> observer)
    : impl_(std::make_unique<Impl>(driver, std::move(settings), std::move(resources),
                                   std::move(observer))) {}

Scheduler::~Scheduler() {
  Stop();
  std::vector<Impl::RunThread> runs;
  {
    std::scoped_lock lock(impl_->mu);
    runs.swap(impl_->runs);
  }
}

void Scheduler::Schedule(const std::string& name, const std::string& cron, ScheduleHandler handler,
                         bool clean_old) {
  if (name.empty()) throw LogicError("a schedule needs a name");
  if (!handler) throw LogicError("schedule \"" + name + "\" has no handler");
  auto parsed = CronExpression::Parse(cron);
  parsed.Next(Clock::now());  // throws for expressions that never fire (Feb 31)
  for (const auto& e : impl_->entries) {
    if (e.name == name && e.cron.text() == parsed.text()) {
      throw LogicError("schedule \"" + name + "\" with \"" + parsed.text() +
                       "\" is already registered");
    }
  }
  impl_->entries.push_back({name, std::move(parsed), std::move(handler), clean_old});
}

bool Scheduler::empty() const { return impl_->entries.empty(); }
std::int64_t Scheduler::polls() const noexcept { return impl_->polls.load(); }

void Scheduler::Stop() noexcept {
  impl_->stop = true;
  impl_->cv.notify_all();
}

void Scheduler::Run() {
  auto& s = *impl_;
  if (s.entries.empty()) return;
  for (const auto& e : s.entries) {
    if (e.clean_old) s.queries.DeleteSchedulesNamed(e.name);
  }
  s.queries.InsertSchedules(s.Slots(Clock::now()));
  // Next-run times are re-read this often, so every worker reports the time
  // that whichever worker claimed the schedule last wrote.
  constexpr auto kPeekEvery = 5s;
  auto next_peek = std::chrono::steady_clock::now();

  // Running schedules heartbeat every second; a runner silent for 30 s is
  // taken over by another scheduler.
  std::jthread heartbeat([&s](std::stop_token token) {
    while (!token.stop_requested()) {
      std::vector<std::int64_t> ids;
      {
        std::unique_lock lock(s.mu);
        s.cv.wait_for(lock, 1s, [&] { return token.stop_requested(); });
        ids.assign(s.running.begin(), s.running.end());
      }
      try {
        s.queries.ScheduleHeartbeat(ids);
      } catch (const std::exception& e) {
        spdlog::warn("schedule heartbeat failed: {}", e.what());
      }
    }
  });

  while (!s.stop) {
    const auto now = Clock::now();
    try {
      if (std::chrono::steady_clock::now() >= next_peek) {
        next_peek = std::chrono::steady_clock::now() + kPeekEvery;
        s.ReportNextRuns(s.queries.PeekSchedules());
      }
      const auto claimed = s.queries.FetchSchedules(s.Slots(now));
      s.ReportNextRuns(claimed);
      for (const auto& row : claimed) {
        const Impl::Entry* entry = nullptr;
        for (const auto& e : s.entries) {
          if (e.name == row.entrypoint && e.cron.text() == row.expression) entry = &e;
        }
        if (!entry) continue;
        std::scoped_lock lock(s.mu);
        // Forget runs that have finished (their threads join at once).
        std::erase_if(s.runs, [](const Impl::RunThread& r) { return r.done->load(); });
        s.running.insert(row.id);
        auto done = std::make_shared<std::atomic<bool>>(false);
        s.runs.push_back({done, std::jthread([&s, entry, row, done] {
          const auto started = std::chrono::steady_clock::now();
          std::string_view outcome = "successful";
          try {
            ScheduleContext ctx{row, *s.resources};
            entry->handler(ctx);
          } catch (const std::exception& e) {
            outcome = "exception";
            spdlog::error("schedule {} failed: {}", row.entrypoint, e.what());
          }
          s.observer->OnScheduleRun(row.entrypoint, outcome,
                                    std::chrono::steady_clock::now() - started);
          try {
            s.queries.SetSchedulesQueued({row.id});
          } catch (const std::exception& e) {
            spdlog::error("could not release schedule {}: {}", row.entrypoint, e.what());
          }
          {
            std::scoped_lock release(s.mu);
            s.running.erase(row.id);
          }
          *done = true;
        })});
      }
    } catch (const std::exception& e) {
      spdlog::warn("fetching schedules failed: {}", e.what());
    }
    ++s.polls;
    auto wait = 1000ms;
    for (const auto& e : s.entries) {
      wait = std::min(wait, std::chrono::duration_cast<std::chrono::milliseconds>(
                                e.cron.Next(Clock::now()) - Clock::now()) +
                                10ms);
    }
    s.Sleep(std::max(wait, 10ms));
  }
  std::vector<Impl::RunThread> runs;
  {
    std::scoped_lock lock(s.mu);
    runs.swap(s.runs);
  }
  runs.clear();  // joins running schedules
  heartbeat.request_stop();
  s.cv.notify_all();
  s.stop = false;
}

}  // namespace pgq
