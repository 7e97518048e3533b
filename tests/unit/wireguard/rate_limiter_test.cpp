#include "wireguard/rate_limiter.h"

#include <gtest/gtest.h>

namespace coral::wireguard {
namespace {

using namespace std::chrono_literals;

TEST(HandshakeRateLimiter, BurstThenTwentyPerSecondPerAddress) {
  HandshakeRateLimiter limiter;
  const IpAddress a = *IpAddress::parse("192.0.2.1");
  const IpAddress b = *IpAddress::parse("2001:db8::1");
  Time now = Time(1h);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(limiter.allow(a, now)) << i;
  EXPECT_FALSE(limiter.allow(a, now));
  EXPECT_TRUE(limiter.allow(b, now));  // another address has its own bucket
  now += 49ms;
  EXPECT_FALSE(limiter.allow(a, now));  // a token takes 50 ms to come back
  now += 1ms;
  EXPECT_TRUE(limiter.allow(a, now));
  EXPECT_FALSE(limiter.allow(a, now));
  // Over a second, 20 more and no more than that.
  int allowed = 0;
  for (int step = 0; step < 1000; ++step) {
    now += 1ms;
    if (limiter.allow(a, now)) ++allowed;
  }
  EXPECT_EQ(allowed, 20);
}

TEST(HandshakeRateLimiter, IdleAddressesAreForgotten) {
  HandshakeRateLimiter limiter;
  Time now = Time(1h);
  for (std::uint8_t i = 1; i <= 100; ++i) EXPECT_TRUE(limiter.allow(IpAddress::v4({198, 51, 100, i}), now));
  EXPECT_EQ(limiter.tracked(), 100u);
  now += 2s;
  EXPECT_TRUE(limiter.allow(IpAddress::v4({203, 0, 113, 1}), now));
  EXPECT_EQ(limiter.tracked(), 1u);
}

}  // namespace
}  // namespace coral::wireguard
