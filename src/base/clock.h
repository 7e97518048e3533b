#pragma once
// Wall-clock time, injected so that leases and timers can be tested with a
// fake clock. Wall time (not steady) because leases are shared between
// processes and machines (the Redis store).

#include <chrono>

namespace coral::base {

class Clock {
 public:
  using time_point = std::chrono::system_clock::time_point;
  virtual ~Clock() = default;
  virtual time_point now() const = 0;
};

class SystemClock final : public Clock {
 public:
  time_point now() const override { return std::chrono::system_clock::now(); }
};

// A clock that moves only when told to.
class FakeClock final : public Clock {
 public:
  explicit FakeClock(time_point start = time_point(std::chrono::seconds(1'700'000'000))) : now_(start) {}
  time_point now() const override { return now_; }
  void advance(std::chrono::system_clock::duration by) { now_ += by; }

 private:
  time_point now_;
};

}  // namespace coral::base
