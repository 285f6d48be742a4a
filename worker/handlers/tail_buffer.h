#pragma once
// The last N bytes of a stream (a child's stdout / stderr), for messages.

#include <cstddef>
#include <string>
#include <string_view>

#include "util/text.h"

namespace pgq::worker {

/// Keeps the last `limit` bytes of a stream, in amortised O(1) per byte.
class TailBuffer {
 public:
  explicit TailBuffer(std::size_t limit) : limit_(limit) {}

  void Append(const char* data, std::size_t size) {
    if (size >= limit_) {
      truncated_ = truncated_ || size > limit_ || !buffer_.empty();
      buffer_.assign(data + (size - limit_), limit_);
      return;
    }
    buffer_.append(data, size);
    if (buffer_.size() > 2 * limit_) Trim();
  }

  /// The tail as valid UTF-8 without trailing blanks; "..." marks a cut.
  std::string Text() {
    Trim();
    std::string_view view = buffer_;
    if (truncated_) {
      // Do not start in the middle of a UTF-8 sequence.
      std::size_t skip = 0;
      while (skip < view.size() && skip < 3 &&
             (static_cast<unsigned char>(view[skip]) & 0xC0) == 0x80) {
        ++skip;
      }
      view.remove_prefix(skip);
    }
    std::string text = TrimTrailingSpace(ValidUtf8(view));
    if (truncated_ && !text.empty()) text.insert(0, "...");
    return text;
  }

 private:
  void Trim() {
    if (buffer_.size() > limit_) {
      buffer_.erase(0, buffer_.size() - limit_);
      truncated_ = true;
    }
  }

  std::size_t limit_;
  std::string buffer_;
  bool truncated_ = false;
};

}  // namespace pgq::worker
