#include "cli/job_commands.h"

#include <pthread.h>

#include <chrono>
#include <csignal>
#include <ctime>
#include <iomanip>
#include <iostream>
#include <mutex>

#include "cli/cli.h"
#include "pgq/driver.h"
#include "pgq/queries.h"

namespace pgq::cli {
namespace {

std::string FormatTime(Clock::time_point t) {
  const std::time_t secs = Clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  return buf;
}

// Blocks SIGINT/SIGTERM and returns once one arrives or `timeout` passes;
// true when a signal arrived.
bool WaitForSignal(std::chrono::milliseconds timeout) {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  timespec ts{static_cast<time_t>(timeout.count() / 1000),
              static_cast<long>((timeout.count() % 1000) * 1000000)};
  return sigtimedwait(&signals, nullptr, &ts) > 0;
}

}  // namespace

void JobCommands::RegisterProducer(CLI::App& app) {
  auto* queue = app.add_subcommand("queue", "enqueue one job");
  queue->add_option("entrypoint", entrypoint_, "handler name")->required();
  queue->add_option("payload", payload_, "payload (stored as UTF-8 bytes; omitted = NULL)");
  queue->add_option("--priority", priority_, "higher runs sooner")->capture_default_str();
  queue->add_option("--dedupe-key", dedupe_key_, "refuse (or skip) while a live job holds this key");
  queue->add_option("--on-conflict", on_conflict_, "raise | skip")
      ->check(CLI::IsMember({"raise", "skip"}))
      ->capture_default_str();
  queue->add_option("--headers", headers_, "JSON object stored in the headers column");
  queue->callback([this] {
    action_ = [this] {
      SyncDriver driver(ConnectionOptions::FromDsn(globals_.Dsn()));
      ProducerQueries producer(driver, globals_.Settings());
      NewJob job;
      job.entrypoint = entrypoint_;
      job.payload = payload_;
      job.priority = priority_;
      job.dedupe_key = dedupe_key_;
      job.headers = headers_;
      auto ids = producer.Enqueue({job}, on_conflict_ == "skip" ? OnConflict::kSkip
                                                                 : OnConflict::kRaise);
      if (ids.front()) {
        std::cout << *ids.front() << "\n";
      } else {
        std::cerr << "skipped: a live job already holds dedupe key " << dedupe_key_.value_or("")
                  << "\n";
      }
      return kExitOk;
    };
  });
}

void JobCommands::RegisterInspection(CLI::App& app) {
  RegisterFailed(app);
  RegisterRequeue(app);
  RegisterDashboard(app);
  RegisterListen(app);
  RegisterSchedules(app);
}

void JobCommands::RegisterFailed(CLI::App& app) {
  auto* failed = app.add_subcommand("failed", "list held (failed) jobs");
  failed->add_option("-n,--limit", failed_limit_, "how many")->capture_default_str();
  failed->callback([this] {
    action_ = [this] {
      auto db = globals_.Connect();
      Queries queries(*db, globals_.Settings());
      std::cout << std::left << std::setw(12) << "id" << std::setw(28) << "entrypoint"
                << std::setw(10) << "attempts" << std::setw(21) << "created" << "payload_bytes\n";
      for (const auto& job : queries.ListFailed(failed_limit_)) {
        std::cout << std::setw(12) << job.id << std::setw(28) << job.entrypoint << std::setw(10)
                  << job.attempts << std::setw(21) << FormatTime(job.created)
                  << (job.payload ? job.payload->size() : 0) << "\n";
      }
      return kExitOk;
    };
  });
}

void JobCommands::RegisterRequeue(CLI::App& app) {
  auto* requeue = app.add_subcommand("requeue", "put held (failed) jobs back in the queue");
  requeue->add_option("ids", requeue_ids_, "job ids")->required();
  requeue->callback([this] {
    action_ = [this] {
      auto db = globals_.Connect();
      Queries queries(*db, globals_.Settings());
      const auto n = queries.Requeue(requeue_ids_);
      std::cout << "requeued " << n << " of " << requeue_ids_.size() << " jobs\n";
      return kExitOk;
    };
  });
}

void JobCommands::RegisterDashboard(CLI::App& app) {
  auto* dashboard = app.add_subcommand("dashboard", "show processed-job statistics");
  dashboard->add_option("-i,--interval", interval_, "refresh every SECONDS (0 = once)");
  dashboard->add_option("-n,--limit", dashboard_limit_, "rows")->capture_default_str();
  dashboard->callback([this] {
    action_ = [this] {
      auto db = globals_.Connect();
      Queries queries(*db, globals_.Settings());
      for (;;) {
        if (interval_ > 0) std::cout << "\x1b[2J\x1b[H";
        std::cout << std::left << std::setw(21) << "created" << std::setw(10) << "count"
                  << std::setw(28) << "entrypoint" << std::setw(12) << "status" << "priority\n";
        for (const auto& row : queries.LogStatistics(dashboard_limit_)) {
          std::cout << std::setw(21) << FormatTime(row.created) << std::setw(10) << row.count
                    << std::setw(28) << row.entrypoint << std::setw(12) << ToString(row.status)
                    << row.priority << "\n";
        }
        std::cout.flush();
        if (interval_ <= 0) return kExitOk;
        if (WaitForSignal(std::chrono::milliseconds(static_cast<long>(interval_ * 1000)))) {
          return kExitOk;
        }
      }
    };
  });
}

void JobCommands::RegisterListen(CLI::App& app) {
  auto* listen = app.add_subcommand("listen", "print every event on the channel (debugging)");
  listen->add_option("--channel", listen_channel_, "channel (default: the settings' channel)");
  listen->callback([this] {
    action_ = [this] {
      auto db = globals_.Connect();
      const auto settings = globals_.Settings();
      std::mutex out;
      auto subscription = db->Listen(listen_channel_.value_or(settings.channel),
                                     [&](const Notification& n) {
                                       std::scoped_lock lock(out);
                                       std::cout << n.payload << std::endl;
                                     });
      std::cerr << "listening on " << listen_channel_.value_or(settings.channel)
                << " (Ctrl-C to stop)\n";
      while (!WaitForSignal(std::chrono::milliseconds(1000))) {
      }
      return kExitOk;
    };
  });
}

void JobCommands::RegisterSchedules(CLI::App& app) {
  auto* schedules = app.add_subcommand("schedules", "list schedules, or remove them with -r");
  schedules->add_option("-r,--remove", remove_, "schedule ids or names to delete");
  schedules->callback([this] {
    action_ = [this] {
      auto db = globals_.Connect();
      Queries queries(*db, globals_.Settings());
      if (!remove_.empty()) {
        std::vector<std::int64_t> ids;
        std::vector<std::string> names;
        for (const auto& r : remove_) {
          if (!r.empty() && r.find_first_not_of("0123456789") == std::string::npos) {
            ids.push_back(std::stoll(r));
          } else {
            names.push_back(r);
          }
        }
        queries.DeleteSchedules(ids, names);
      }
      std::cout << std::left << std::setw(8) << "id" << std::setw(24) << "name" << std::setw(20)
                << "expression" << std::setw(10) << "status" << std::setw(21) << "next_run"
                << "last_run\n";
      for (const auto& row : queries.PeekSchedules()) {
        std::cout << std::setw(8) << row.id << std::setw(24) << row.entrypoint << std::setw(20)
                  << row.expression << std::setw(10) << ToString(row.status) << std::setw(21)
                  << FormatTime(row.next_run)
                  << (row.last_run ? FormatTime(*row.last_run) : std::string("-")) << "\n";
      }
      return kExitOk;
    };
  });
}

}  // namespace pgq::cli
