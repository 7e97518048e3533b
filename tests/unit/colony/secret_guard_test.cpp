// SecretGuard: the wrong-secret limit per source and its report windows,
// with time passed in.

#include "colony/secret_guard.h"

#include <gtest/gtest.h>

#include <string>

namespace coral::colony {
namespace {

using namespace std::chrono_literals;
using TimePoint = SecretGuard::TimePoint;

const TimePoint kStart = TimePoint(1'700'000'000s);

TEST(SecretGuard, ABurstThenOnePerRefill) {
  SecretGuard guard;
  EXPECT_FALSE(guard.check("10.0.0.1", kStart));  // never wrong: not tracked
  EXPECT_EQ(guard.tracked(), 0U);
  for (std::uint32_t i = 0; i < SecretGuard::kBurst; ++i) {
    EXPECT_FALSE(guard.check("10.0.0.1", kStart)) << i;
    guard.record_wrong_secret("10.0.0.1", kStart);
  }
  const auto wait = guard.check("10.0.0.1", kStart);
  ASSERT_TRUE(wait);
  EXPECT_EQ(*wait, SecretGuard::kRefill);
  EXPECT_FALSE(guard.check("10.0.0.2", kStart));  // others are not limited
  // Trying again while refused earns nothing: the wait starts over.
  EXPECT_EQ(guard.check("10.0.0.1", kStart + 500ms), std::optional<SecretGuard::Duration>(1s));
  EXPECT_EQ(guard.check("10.0.0.1", kStart + 1400ms), std::optional<SecretGuard::Duration>(1s));
  // A pause of one refill: one more attempt.
  EXPECT_FALSE(guard.check("10.0.0.1", kStart + 2400ms));
  guard.record_wrong_secret("10.0.0.1", kStart + 2400ms);
  EXPECT_TRUE(guard.check("10.0.0.1", kStart + 2400ms));
  // Still trying: refused, and the wait starts over.
  EXPECT_EQ(guard.check("10.0.0.1", kStart + 2900ms), std::optional<SecretGuard::Duration>(1s));
}

TEST(SecretGuard, TheFirstWrongSecretOfAWindowIsReportedAtOnceTheRestSummarized) {
  SecretGuard guard;
  EXPECT_TRUE(guard.record_wrong_secret("10.0.0.1", kStart));
  EXPECT_FALSE(guard.record_wrong_secret("10.0.0.1", kStart + 1ms));
  EXPECT_TRUE(guard.record_wrong_secret("10.0.0.2", kStart + 2ms));
  EXPECT_TRUE(guard.sweep(kStart + 5s).empty());  // the window is still open
  const auto summaries = guard.sweep(kStart + 10s);
  ASSERT_EQ(summaries.size(), 1U);  // 10.0.0.2 had nothing beyond its first line
  EXPECT_EQ(summaries[0].source, "10.0.0.1");
  EXPECT_EQ(summaries[0].wrong, 1U);
  EXPECT_EQ(summaries[0].wrong_colony, 0U);
  EXPECT_EQ(summaries[0].limited, 0U);
  EXPECT_EQ(summaries[0].window, 10s);
  // A new window: reported at once again.
  EXPECT_TRUE(guard.record_wrong_secret("10.0.0.1", kStart + 11s));
  // At shutdown, open windows are closed early.
  EXPECT_FALSE(guard.record_wrong_colony("10.0.0.1", kStart + 12s));
  EXPECT_TRUE(guard.sweep(kStart + 13s).empty());
  const auto final = guard.sweep(kStart + 13s, /*close_all=*/true);
  ASSERT_EQ(final.size(), 1U);
  EXPECT_EQ(final[0].wrong_colony, 1U);
  EXPECT_EQ(final[0].window, 2s);
}

TEST(SecretGuard, IdleSourcesAreForgottenAndTheirNumberIsBounded) {
  SecretGuard guard;
  for (std::size_t i = 0; i < SecretGuard::kMaxSources + 100; ++i) {
    guard.record_wrong_secret("source-" + std::to_string(i), kStart);
  }
  EXPECT_EQ(guard.tracked(), SecretGuard::kMaxSources + 1);  // + the shared bucket
  // The sources beyond the cap share one bucket: 100 wrong attempts emptied it.
  EXPECT_TRUE(guard.check("yet-another", kStart));
  guard.sweep(kStart + 10s);  // reports; buckets are full again after 10 s
  EXPECT_EQ(guard.tracked(), 0U);
}

}  // namespace
}  // namespace coral::colony
