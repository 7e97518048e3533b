// The colony's table of provisional peers (colony/provisional_peers.h):
// admission, the cap, the rate, the lifetime, promotion and its grace.

#include <gtest/gtest.h>

#include "colony/provisional_peers.h"
#include "mesh/registration_address.h"

namespace coral::colony {
namespace {

using namespace std::chrono_literals;
using Clock = ProvisionalPeers::Clock;

crypto::PublicKey fresh_key() { return crypto::SecretKey::generate().public_key(); }

ProvisionalLimits small_limits() {
  ProvisionalLimits limits;
  limits.max_peers = 4;
  limits.admissions = base::TokenRate::per_second(2, 4);
  limits.ttl = 30s;
  limits.grace = 10s;
  return limits;
}

TEST(ProvisionalPeers, AdmitsWithTheKeysRegistrationAddress) {
  const auto t0 = Clock::time_point{} + 1h;
  ProvisionalPeers table(small_limits(), t0);
  const auto key = fresh_key();
  EXPECT_FALSE(table.admit(key, t0).has_value());
  const auto* entry = table.find(key);
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(entry->registration_address, mesh::registration_address(key));
  EXPECT_EQ(table.waiting().size(), 1u);
  EXPECT_EQ(table.stats().admitted, 1u);
  // The same key again (a new handshake) costs nothing and stays one entry.
  for (int i = 0; i < 10; ++i) EXPECT_FALSE(table.admit(key, t0).has_value());
  EXPECT_EQ(table.size(), 1u);
  EXPECT_EQ(table.stats().admitted, 1u);
}

TEST(ProvisionalPeers, RefusesBeyondTheCapUntilOneIsForgotten) {
  auto now = Clock::time_point{} + 1h;
  ProvisionalPeers table(small_limits(), now);
  std::vector<crypto::PublicKey> keys;
  for (int i = 0; i < 4; ++i) {
    keys.push_back(fresh_key());
    EXPECT_FALSE(table.admit(keys.back(), now).has_value());
    now += 1s;  // within the rate
  }
  EXPECT_EQ(table.admit(fresh_key(), now), ProvisionalRefusal::full);
  EXPECT_EQ(table.stats().refused_full, 1u);
  // The first one's lifetime ends 30 s after its admission.
  EXPECT_FALSE(table.sweep(Clock::time_point{} + 1h + 29s));
  EXPECT_TRUE(table.sweep(Clock::time_point{} + 1h + 30s));
  EXPECT_EQ(table.find(keys.front()), nullptr);
  EXPECT_EQ(table.stats().forgotten, 1u);
  EXPECT_FALSE(table.admit(fresh_key(), Clock::time_point{} + 1h + 30s).has_value());
}

TEST(ProvisionalPeers, AdmissionsAreRateLimitedOverAllKeys) {
  const auto t0 = Clock::time_point{} + 1h;
  ProvisionalLimits limits = small_limits();
  limits.max_peers = 100;
  ProvisionalPeers table(limits, t0);
  int admitted = 0;
  int limited = 0;
  for (int i = 0; i < 20; ++i) {
    const auto refused = table.admit(fresh_key(), t0);
    if (!refused) ++admitted;
    if (refused == ProvisionalRefusal::rate_limited) ++limited;
  }
  EXPECT_EQ(admitted, 4);  // the burst
  EXPECT_EQ(limited, 16);
  // Half a second later, one more token (2 a second).
  EXPECT_FALSE(table.admit(fresh_key(), t0 + 500ms).has_value());
  EXPECT_EQ(table.admit(fresh_key(), t0 + 500ms), ProvisionalRefusal::rate_limited);
}

TEST(ProvisionalPeers, PromotionEndsWaitingAndKeepsTheAddressForTheGrace) {
  const auto t0 = Clock::time_point{} + 1h;
  ProvisionalPeers table(small_limits(), t0);
  const auto key = fresh_key();
  ASSERT_FALSE(table.admit(key, t0).has_value());
  table.promote(key, t0 + 2s);
  EXPECT_TRUE(table.waiting().empty());
  ASSERT_NE(table.find(key), nullptr);
  EXPECT_EQ(table.stats().promoted, 1u);
  table.promote(key, t0 + 5s);  // once
  EXPECT_EQ(table.stats().promoted, 1u);
  // Past the ttl but within the grace: kept.
  EXPECT_FALSE(table.sweep(t0 + 11s));
  EXPECT_TRUE(table.sweep(t0 + 12s));
  EXPECT_EQ(table.find(key), nullptr);
  EXPECT_EQ(table.stats().forgotten, 0u);  // promoted, not forgotten
  // Promoting a key that is not here changes nothing.
  table.promote(fresh_key(), t0 + 13s);
  EXPECT_EQ(table.size(), 0u);
}

TEST(ProvisionalPeers, APromotedKeyThatComesBackUnknownIsAdmittedAfresh) {
  const auto t0 = Clock::time_point{} + 1h;
  ProvisionalPeers table(small_limits(), t0);
  const auto key = fresh_key();
  ASSERT_FALSE(table.admit(key, t0).has_value());
  table.promote(key, t0 + 1s);
  // The registry dropped it (revoked, expired) and it handshakes again.
  ASSERT_FALSE(table.admit(key, t0 + 2s).has_value());
  ASSERT_EQ(table.waiting().size(), 1u);
  EXPECT_EQ(table.find(key)->admitted, t0 + 2s);
  EXPECT_EQ(table.stats().admitted, 2u);
}

}  // namespace
}  // namespace coral::colony
