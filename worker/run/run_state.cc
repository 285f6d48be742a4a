#include "run/run_state.h"

#include <utility>

namespace pgq::worker {

void RunState::SetStartupProblem(std::string check, std::string reason) {
  std::scoped_lock lock(mu_);
  startup_.check = std::move(check);
  startup_.reason = std::move(reason);
}

RunState::StartupProblem RunState::startup_problem() const {
  std::scoped_lock lock(mu_);
  return startup_;
}

void RunState::Start(std::shared_ptr<ConnectionPool> pool, std::unique_ptr<PgQueuer> queuer) {
  {
    std::scoped_lock lock(mu_);
    pool_ = std::move(pool);
    queuer_ = std::move(queuer);
    if (draining_) queuer_->Stop();
  }
  started_ = true;
}

void RunState::StopConsumer() {
  std::scoped_lock lock(mu_);
  if (queuer_) queuer_->Stop();
}

}  // namespace pgq::worker
