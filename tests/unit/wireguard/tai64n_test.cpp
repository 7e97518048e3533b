#include "wireguard/tai64n.h"

#include <gtest/gtest.h>

#include <string>

#include "base/text.h"

namespace coral::wireguard {
namespace {

using std::chrono::nanoseconds;
using std::chrono::seconds;
using std::chrono::system_clock;

system_clock::time_point at(std::int64_t unix_seconds, std::int64_t nanos) {
  return system_clock::time_point(std::chrono::duration_cast<system_clock::duration>(seconds(unix_seconds)) +
                                  std::chrono::duration_cast<system_clock::duration>(nanoseconds(nanos)));
}

// Computed as wireguard-go's tai64n.stamp does: (0x400000000000000a + unix
// seconds) big-endian, then nanoseconds with the low 24 bits cleared.
TEST(Tai64n, KnownAnswers) {
  EXPECT_EQ(base::hex(tai64n(at(0, 0))), "400000000000000a00000000");
  EXPECT_EQ(base::hex(tai64n(at(1700000000, 123456789))), "400000006553f10a07000000");
  EXPECT_EQ(base::hex(tai64n(at(1700000000, 999999999))), "400000006553f10a3b000000");
  // Half a second before the epoch: one second less, 0.5 s of nanoseconds.
  EXPECT_EQ(base::hex(tai64n(at(-1, 500000000))), "40000000000000091d000000");
}

TEST(Tai64n, LaterTimesCompareLaterAcrossByteBoundaries) {
  const Tai64n zero{};
  const Tai64n t1 = tai64n(at(1700000000, 0));
  const Tai64n t2 = tai64n(at(1700000000, 20'000'000));  // 20 ms later: past one 2^24 ns step
  const Tai64n t3 = tai64n(at(1700000001, 0));
  const Tai64n t4 = tai64n(at(1700000256, 0));  // carries into the next seconds byte
  EXPECT_TRUE(tai64n_after(t1, zero));
  EXPECT_TRUE(tai64n_after(t2, t1));
  EXPECT_TRUE(tai64n_after(t3, t2));
  EXPECT_TRUE(tai64n_after(t4, t3));
  EXPECT_FALSE(tai64n_after(t1, t2));
  EXPECT_FALSE(tai64n_after(t3, t4));
  EXPECT_FALSE(tai64n_after(t1, t1)) << "equal is a replay";
  EXPECT_FALSE(tai64n_after(zero, zero));
}

TEST(Tai64n, TimesWithinOneWhitenedStepAreEqual) {
  // 2^24 ns = 16.777216 ms: the two stamps carry the same value.
  EXPECT_EQ(tai64n(at(1700000000, 0)), tai64n(at(1700000000, 16'000'000)));
  EXPECT_NE(tai64n(at(1700000000, 0)), tai64n(at(1700000000, 16'777'216)));
}

}  // namespace
}  // namespace coral::wireguard
