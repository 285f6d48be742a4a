#include "runtime/completion_batcher.h"

namespace pgq::detail {

void CompletionBatcher::Add(Completion completion, bool urgent) {
  bool flush = urgent;
  {
    std::scoped_lock lock(mu_);
    buffer_.push_back(std::move(completion));
    flush = flush || static_cast<std::int64_t>(buffer_.size()) >= flush_at_;
    flush_now_ = flush_now_ || urgent;
  }
  if (flush) cv_.notify_all();
}

void CompletionBatcher::WaitForWork(const std::stop_token& token,
                                    std::chrono::milliseconds timeout, bool retrying) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] {
    if (token.stop_requested()) return true;
    if (retrying) return false;
    return flush_now_ || static_cast<std::int64_t>(buffer_.size()) >= flush_at_;
  });
  flush_now_ = false;
}

bool CompletionBatcher::Flush() {
  std::vector<Completion> batch;
  {
    std::scoped_lock lock(mu_);
    batch.swap(buffer_);
  }
  if (batch.empty()) return true;
  try {
    store_.Complete(batch);
    written_ += static_cast<std::int64_t>(batch.size());
    failures_.Succeeded(*log_);
    return true;
  } catch (const std::exception& e) {
    failures_.Failed(*log_, std::to_string(batch.size()) + " completions kept: " + e.what(),
                     std::chrono::milliseconds(0));
    std::scoped_lock lock(mu_);
    buffer_.insert(buffer_.begin(), batch.begin(), batch.end());
    return false;
  }
}

}  // namespace pgq::detail
