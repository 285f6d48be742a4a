#pragma once
/// @file
/// Cron schedules shared by every scheduler on the database: a due schedule
/// runs once across the fleet (row lock + status), heartbeats while running,
/// and is taken over when its runner's heartbeat is older than 30 s.

#include <array>
#include <bitset>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pgq/driver.h"
#include "pgq/observer.h"
#include "pgq/queries.h"
#include "pgq/runtime.h"

namespace pgq {

/// A parsed cron expression: 5 fields (minute hour day-of-month month
/// day-of-week) or 6 with seconds as the *last* field. Times are UTC.
class CronExpression {
 public:
  /// Parses and validates; throws LogicError naming the bad field.
  static CronExpression Parse(std::string_view text);
  /// The expression as stored in the schedules table: lower-case, aliases
  /// (@hourly, @daily, @midnight, @weekly, @monthly, @yearly, @annually)
  /// expanded, single spaces (PgQueuer's croniter spelling).
  static std::string Normalize(std::string_view text);

  /// First fire time strictly after `after`.
  Clock::time_point Next(Clock::time_point after) const;
  const std::string& text() const noexcept { return text_; }

 private:
  std::string text_;
  bool has_seconds_ = false;
  std::bitset<60> seconds_, minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;    // 1..31
  std::bitset<13> months_;  // 1..12
  std::bitset<7> weekdays_; // 0..6, Sunday = 0
  bool days_restricted_ = false, weekdays_restricted_ = false;
};

/// What a schedule handler gets.
struct ScheduleContext {
  const ScheduleRow& schedule;
  Resources& resources;
};
using ScheduleHandler = std::function<void(ScheduleContext&)>;

/// Runs registered schedules in-process. Schedule() before Run(); Run()
/// blocks until Stop().
class Scheduler {
 public:
  /// `observer` hears of every run (outcome, duration) and of each schedule's
  /// next due time as the database has it.
  Scheduler(Driver& driver, DBSettings settings, std::shared_ptr<Resources> resources = nullptr,
            std::shared_ptr<Observer> observer = nullptr);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  /// Registers `name` with a cron expression. With clean_old, rows of the
  /// same name with another expression are deleted at start. Throws
  /// LogicError on a bad expression or a duplicate (name, expression).
  void Schedule(const std::string& name, const std::string& cron, ScheduleHandler handler,
                bool clean_old = false);
  bool empty() const;

  void Run();
  void Stop() noexcept;
  /// Completed polling rounds (for tests and liveness).
  std::int64_t polls() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace pgq
