// A multi-producer, single-consumer FIFO whose capacity is counted in "heavy" items (windows
// of samples); light items (end-of-file notes) never block. close() wakes everyone: push then
// returns false and pop returns nothing once the queue is drained.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <utility>

namespace clap::index {

template <class T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t capacity) : capacity_(capacity ? capacity : 1) {}

  // Blocks while `heavy` and the queue is full. False when the queue was closed.
  bool push(T item, bool heavy) {
    std::unique_lock<std::mutex> lock(m_);
    if (heavy) not_full_.wait(lock, [&] { return closed_ || heavy_ < capacity_; });
    if (closed_) return false;
    items_.emplace_back(std::move(item), heavy);
    heavy_ += heavy;
    not_empty_.notify_one();
    return true;
  }

  // Blocks until an item is available; nothing once the queue is closed and empty.
  std::optional<T> pop() {
    std::unique_lock<std::mutex> lock(m_);
    not_empty_.wait(lock, [&] { return closed_ || !items_.empty(); });
    if (items_.empty()) return std::nullopt;
    auto [item, heavy] = std::move(items_.front());
    items_.pop_front();
    if (heavy) {
      --heavy_;
      not_full_.notify_one();
    }
    return std::move(item);
  }

  void close() {
    std::lock_guard<std::mutex> lock(m_);
    closed_ = true;
    not_empty_.notify_all();
    not_full_.notify_all();
  }

 private:
  std::mutex m_;
  std::condition_variable not_full_, not_empty_;
  std::deque<std::pair<T, bool>> items_;
  size_t heavy_ = 0, capacity_;
  bool closed_ = false;
};

}  // namespace clap::index
