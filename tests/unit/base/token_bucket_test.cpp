// base::TokenBucket and base::KeyedTokenBuckets, with time passed in.

#include "base/token_bucket.h"

#include <gtest/gtest.h>

#include <string>

namespace coral::base {
namespace {

using namespace std::chrono_literals;
using Steady = std::chrono::steady_clock;
using Wall = std::chrono::system_clock;

const Steady::time_point kStart = Steady::time_point(1h);

TEST(TokenRate, PerSecondIsAnIntervalRoundedDownToNanoseconds) {
  EXPECT_EQ(TokenRate::per_second(20, 5).interval, 50ms);
  EXPECT_EQ(TokenRate::per_second(16, 500).interval, 62'500us);
  EXPECT_EQ(TokenRate::per_second(3, 1).interval, 333'333'333ns);
  EXPECT_EQ(TokenRate::per_second(0.5, 1).interval, 2s);
  EXPECT_EQ(TokenRate::per_second(1e12, 1).interval, 1ns);  // never zero
  EXPECT_GT(TokenRate::per_second(0, 1).interval, 1'000'000h);  // no rate: practically never
}

TEST(TokenBucket, StartsFullThenRefillsExactlyOneTokenPerInterval) {
  TokenBucket<Steady> bucket(TokenRate{.interval = 50ms, .burst = 5}, kStart);
  EXPECT_EQ(bucket.available(kStart), 5U);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(bucket.try_take(kStart)) << i;
  EXPECT_FALSE(bucket.try_take(kStart));
  EXPECT_EQ(bucket.until_next(kStart), 50ms);
  EXPECT_EQ(bucket.until_next(kStart + 49'999'999ns), 1ns);
  EXPECT_FALSE(bucket.try_take(kStart + 49'999'999ns));
  EXPECT_TRUE(bucket.try_take(kStart + 50ms));
  // Fractions are kept between calls: 1000 steps of 1 ms are 20 tokens exactly.
  int taken = 0;
  for (int step = 1; step <= 1000; ++step) taken += bucket.try_take(kStart + 50ms + step * 1ms);
  EXPECT_EQ(taken, 20);
  // A rate that does not divide a second: 3/s over 10 s is 30 tokens, not 29.
  TokenBucket<Steady> thirds(TokenRate::per_second(3, 2), kStart);
  ASSERT_TRUE(thirds.try_take(kStart));
  ASSERT_TRUE(thirds.try_take(kStart));
  taken = 0;
  for (int step = 1; step <= 10'000; ++step) taken += thirds.try_take(kStart + step * 1ms);
  EXPECT_EQ(taken, 30);
}

TEST(TokenBucket, HoldsNoMoreThanItsBurst) {
  TokenBucket<Steady> bucket(TokenRate{.interval = 1s, .burst = 3}, kStart);
  ASSERT_TRUE(bucket.try_take(kStart));
  EXPECT_FALSE(bucket.full(kStart + 999ms));
  EXPECT_TRUE(bucket.full(kStart + 1s));
  const auto later = kStart + 24h * 365 * 100;  // a century idle: still three
  EXPECT_EQ(bucket.available(later), 3U);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(bucket.try_take(later)) << i;
  EXPECT_FALSE(bucket.try_take(later));
  // A bucket of no tokens never gives one.
  TokenBucket<Steady> none(TokenRate{.interval = 1s, .burst = 0}, kStart);
  EXPECT_FALSE(none.try_take(kStart + 1h));
}

TEST(TokenBucket, TimeGoingBackwardsEarnsNothing) {
  TokenBucket<Wall> bucket(TokenRate{.interval = 1s, .burst = 2}, Wall::time_point(1'700'000'000s));
  const auto now = Wall::time_point(1'700'000'000s);
  ASSERT_TRUE(bucket.try_take(now));
  ASSERT_TRUE(bucket.try_take(now));
  // The wall clock steps back an hour, then comes back: no token appears
  // until a second after the latest time point seen.
  EXPECT_FALSE(bucket.try_take(now - 1h));
  EXPECT_EQ(bucket.until_next(now - 1h), 1s);
  EXPECT_FALSE(bucket.try_take(now + 999ms));
  EXPECT_TRUE(bucket.try_take(now + 1s));
  EXPECT_FALSE(bucket.try_take(now + 1s));
}

TEST(TokenBucket, SpendDoesNotGoBelowEmptyAndForfeitEarnsNothing) {
  TokenBucket<Steady> bucket(TokenRate{.interval = 1s, .burst = 2}, kStart);
  bucket.spend(kStart);
  bucket.spend(kStart);
  bucket.spend(kStart);  // already empty: stays empty, not in debt
  EXPECT_EQ(bucket.until_next(kStart), 1s);
  // Half a token earned, then forfeited: the wait starts over.
  bucket.forfeit(kStart + 500ms);
  EXPECT_EQ(bucket.until_next(kStart + 500ms), 1s);
  EXPECT_TRUE(bucket.try_take(kStart + 1500ms));
}

TEST(KeyedTokenBuckets, OneBucketPerKey) {
  KeyedTokenBuckets<Steady, std::string> buckets({.rate = TokenRate{.interval = 100ms, .burst = 2}});
  EXPECT_TRUE(buckets.try_take("a", kStart));
  EXPECT_TRUE(buckets.try_take("a", kStart));
  EXPECT_FALSE(buckets.try_take("a", kStart));
  EXPECT_TRUE(buckets.try_take("b", kStart));  // another key has its own bucket
  EXPECT_TRUE(buckets.try_take("a", kStart + 100ms));
  EXPECT_EQ(buckets.tracked(), 2U);
}

TEST(KeyedTokenBuckets, KeysAreForgottenOnceFullAgain) {
  KeyedTokenBuckets<Steady, std::string> buckets({.rate = TokenRate{.interval = 100ms, .burst = 2}});
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(buckets.try_take("k" + std::to_string(i), kStart));
  ASSERT_TRUE(buckets.try_take("busy", kStart + 1s));
  ASSERT_TRUE(buckets.try_take("busy", kStart + 1s));
  EXPECT_EQ(buckets.tracked(), 1U);  // the hundred were full again: forgotten
  // No sweep within a second of the last one; then the full are forgotten.
  ASSERT_TRUE(buckets.try_take("other", kStart + 1500ms));
  EXPECT_EQ(buckets.tracked(), 2U);
  ASSERT_TRUE(buckets.try_take("other", kStart + 2s));
  EXPECT_EQ(buckets.tracked(), 1U);
  // A forgotten key starts full, as if it had been kept.
  ASSERT_TRUE(buckets.try_take("k0", kStart + 3s));
  EXPECT_TRUE(buckets.try_take("k0", kStart + 3s));
  EXPECT_FALSE(buckets.try_take("k0", kStart + 3s));
}

TEST(KeyedTokenBuckets, NewKeysAreRefusedAtTheCap) {
  KeyedTokenBuckets<Wall, std::string> buckets(
      {.rate = TokenRate{.interval = 100ms, .burst = 2}, .max_keys = 2});
  const auto now = Wall::time_point(1'700'000'000s);
  EXPECT_TRUE(buckets.try_take("a", now));
  EXPECT_TRUE(buckets.try_take("b", now));
  EXPECT_FALSE(buckets.try_take("c", now));  // a third key while two are tracked
  EXPECT_TRUE(buckets.try_take("a", now));   // known keys go on
  EXPECT_EQ(buckets.tracked(), 2U);
  EXPECT_TRUE(buckets.try_take("c", now + 1s));  // a and b full again: forgotten
  EXPECT_EQ(buckets.tracked(), 1U);
}

TEST(KeyedTokenBuckets, TimeGoingBackwardsSweepsWithoutForgettingEmptyBuckets) {
  KeyedTokenBuckets<Wall, std::string> buckets({.rate = TokenRate{.interval = 1s, .burst = 1}});
  const auto now = Wall::time_point(1'700'000'000s);
  ASSERT_TRUE(buckets.try_take("a", now));
  ASSERT_TRUE(buckets.try_take("b", now - 1h));  // swept: "a" is not full, so kept
  EXPECT_EQ(buckets.tracked(), 2U);
  EXPECT_FALSE(buckets.try_take("a", now - 1h));
  EXPECT_FALSE(buckets.try_take("a", now + 999ms));
  EXPECT_TRUE(buckets.try_take("a", now + 1s));
}

}  // namespace
}  // namespace coral::base
