#include "base/token_bucket.h"

#include <algorithm>
#include <cmath>

namespace coral::base {

namespace {

constexpr std::int64_t kMax = std::numeric_limits<std::int64_t>::max();

}  // namespace

TokenRate TokenRate::per_second(double per_second, std::uint32_t burst) {
  // 1e9 / per_second, in [1, int64 max] (a NaN or non-positive rate gets the
  // slowest interval; callers treat "no limit" before they get here).
  const double nanos = per_second > 0 ? 1e9 / per_second : static_cast<double>(kMax);
  const double bounded = std::clamp(std::floor(nanos), 1.0, static_cast<double>(kMax / 2));
  return TokenRate{std::chrono::nanoseconds(static_cast<std::int64_t>(bounded)), burst};
}

TokenCredit::TokenCredit(TokenRate rate, Nanos now)
    : cost_(std::max<std::int64_t>(rate.interval.count(), 1)),
      capacity_(cost_ > kMax / std::max<std::int64_t>(rate.burst, 1) ? kMax : cost_ * rate.burst),
      credit_(capacity_),
      last_(now) {}

TokenCredit::Nanos TokenCredit::credit_at(Nanos now) const {
  if (now <= last_) return Nanos(credit_);
  // Compared before adding: credit_ + elapsed may not fit in 64 bits.
  const std::int64_t elapsed = (now - last_).count();
  return Nanos(elapsed >= capacity_ - credit_ ? capacity_ : credit_ + elapsed);
}

void TokenCredit::refill(Nanos now) {
  credit_ = credit_at(now).count();
  last_ = std::max(last_, now);
}

bool TokenCredit::try_take(Nanos now) {
  refill(now);
  if (credit_ < cost_) return false;
  credit_ -= cost_;
  return true;
}

void TokenCredit::spend(Nanos now) {
  refill(now);
  credit_ = std::max<std::int64_t>(credit_ - cost_, 0);
}

void TokenCredit::forfeit(Nanos now) { last_ = std::max(last_, now); }

std::uint64_t TokenCredit::available(Nanos now) const {
  return static_cast<std::uint64_t>(credit_at(now).count() / cost_);
}

bool TokenCredit::full(Nanos now) const { return credit_at(now).count() >= capacity_; }

TokenCredit::Nanos TokenCredit::until_next(Nanos now) const {
  return Nanos(std::max<std::int64_t>(cost_ - credit_at(now).count(), 0));
}

}  // namespace coral::base
