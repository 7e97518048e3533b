#include "wireguard/replay_window.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <set>

#include "wireguard/constants.h"

namespace coral::wireguard {
namespace {

constexpr std::uint64_t kWindow = ReplayWindow::kWindowSize;

// One step of a numbered sequence: offer `counter`, expect `fresh`.
struct Step {
  int number;
  std::uint64_t counter;
  bool fresh;
};

void run(ReplayWindow& window, std::initializer_list<Step> steps) {
  for (const Step& step : steps) {
    EXPECT_EQ(window.may_accept(step.counter), step.fresh) << "step " << step.number << ": counter " << step.counter;
    EXPECT_EQ(window.accept(step.counter), step.fresh) << "step " << step.number << ": counter " << step.counter;
  }
}

TEST(ReplayWindow, WindowIsWhatTheKernelKeeps) {
  EXPECT_EQ(kWindow, 8128U);
  EXPECT_GE(kWindow, 2048U);
}

// The sequence of the kernel's selftest (selftest/counter.c), with the
// kernel's T_LIM: one past the window, the first counter that pushes 0 out.
TEST(ReplayWindow, KernelSelftestSequence) {
  constexpr std::uint64_t lim = kWindow + 1;
  constexpr std::uint64_t reject = kRejectAfterMessages;
  ReplayWindow window;
  run(window, {
                  {1, 0, true},
                  {2, 1, true},
                  {3, 1, false},
                  {4, 9, true},
                  {5, 8, true},
                  {6, 7, true},
                  {7, 7, false},
                  {8, lim, true},
                  {9, lim - 1, true},
                  {10, lim - 1, false},
                  {11, lim - 2, true},
                  {12, 2, true},
                  {13, 2, false},
                  {14, lim + 16, true},
                  {15, 3, false},  // 3 fell out of the window when lim + 16 arrived
                  {16, lim + 16, false},
                  {17, lim * 4, true},
                  {18, lim * 4 - (lim - 1), true},  // the oldest counter still in the window
                  {19, 10, false},
                  {20, lim * 4 - lim, false},  // one below it
                  {21, lim * 4 - (lim + 1), false},
                  {22, lim * 4 - (lim - 2), true},
                  {23, lim * 4 + 1 - lim, false},  // step 18's counter again
                  {24, 0, false},
                  {25, reject, false},
                  {26, reject - 1, true},
                  {27, reject, false},
                  {28, reject - 1, false},
                  {29, reject - 2, true},
                  {30, reject + 1, false},
                  {31, reject + 2, false},
                  {32, reject - 2, false},
                  {33, reject - 3, true},
                  {34, 0, false},
              });
}

TEST(ReplayWindow, FillsTheWholeWindowAscending) {
  ReplayWindow window;
  for (std::uint64_t i = 1; i <= kWindow; ++i) ASSERT_TRUE(window.accept(i)) << i;
  EXPECT_TRUE(window.accept(0));  // exactly kWindow below the highest: still inside
  EXPECT_FALSE(window.accept(0));
}

TEST(ReplayWindow, OneAboveTheWindowPushesTheOldestOut) {
  ReplayWindow window;
  for (std::uint64_t i = 2; i <= kWindow + 1; ++i) ASSERT_TRUE(window.accept(i)) << i;
  EXPECT_TRUE(window.accept(1));
  EXPECT_FALSE(window.accept(0));
}

TEST(ReplayWindow, FillsTheWholeWindowDescending) {
  ReplayWindow window;
  for (std::uint64_t i = kWindow + 1; i-- > 0;) ASSERT_TRUE(window.accept(i)) << i;
  for (std::uint64_t i = 0; i <= kWindow; ++i) ASSERT_FALSE(window.may_accept(i)) << i;
}

TEST(ReplayWindow, DescendingFromOneAboveTheWindowRefusesZero) {
  ReplayWindow window;
  for (std::uint64_t i = kWindow + 2; i-- > 1;) ASSERT_TRUE(window.accept(i)) << i;
  EXPECT_FALSE(window.accept(0));
}

TEST(ReplayWindow, DescendingThenNewHighestRefusesZero) {
  ReplayWindow window;
  for (std::uint64_t i = kWindow + 1; i-- > 1;) ASSERT_TRUE(window.accept(i)) << i;
  EXPECT_TRUE(window.accept(kWindow + 1));
  EXPECT_FALSE(window.accept(0));
}

TEST(ReplayWindow, DescendingThenZeroThenNewHighest) {
  ReplayWindow window;
  for (std::uint64_t i = kWindow + 1; i-- > 1;) ASSERT_TRUE(window.accept(i)) << i;
  EXPECT_TRUE(window.accept(0));
  EXPECT_TRUE(window.accept(kWindow + 1));
}

TEST(ReplayWindow, MayAcceptMarksNothing) {
  ReplayWindow window;
  EXPECT_FALSE(window.highest());
  EXPECT_TRUE(window.may_accept(5));
  EXPECT_TRUE(window.may_accept(5));
  EXPECT_FALSE(window.highest());
  // A forged message far ahead must not slide the window: only accept()
  // (after the tag verified) does.
  EXPECT_TRUE(window.may_accept(1'000'000));
  EXPECT_TRUE(window.accept(5));
  EXPECT_TRUE(window.may_accept(4));
  EXPECT_EQ(window.highest(), 5U);
}

TEST(ReplayWindow, JumpsOfManyRingsForgetEverythingOlder) {
  ReplayWindow window;
  for (std::uint64_t i = 0; i < 300; i += 2) ASSERT_TRUE(window.accept(i));
  // Exactly one ring ahead: the counter lands in the slot of counter 0's
  // block, which must read as fresh.
  constexpr std::uint64_t ring = ReplayWindow::kRingBits;
  EXPECT_TRUE(window.accept(ring));
  EXPECT_TRUE(window.accept(ring + 1));
  EXPECT_TRUE(window.accept(ring + 200));
  EXPECT_FALSE(window.accept(ring + 1));
  // The window is now 264 (ring + 200 - kWindow) to ring + 200: the odd
  // counters below it are refused although never seen, those in it are
  // fresh, and the even ones in it are still remembered.
  static_assert(ring + 200 - kWindow == 264);
  EXPECT_FALSE(window.accept(263));
  EXPECT_TRUE(window.accept(265));
  EXPECT_FALSE(window.accept(264));
  EXPECT_FALSE(window.accept(298));
  EXPECT_TRUE(window.accept(299));
  // Far ahead, then back to the ring's slots of the old counters.
  EXPECT_TRUE(window.accept(1ULL << 40));
  for (std::uint64_t i = 1; i <= 300; ++i) ASSERT_TRUE(window.accept((1ULL << 40) - i)) << i;
  EXPECT_FALSE(window.accept((1ULL << 40) - 300));
  EXPECT_EQ(window.highest(), 1ULL << 40);
}

TEST(ReplayWindow, WrapsTheRingManyTimesInOrder) {
  ReplayWindow window;
  const std::uint64_t count = 5 * ReplayWindow::kRingBits + 77;
  for (std::uint64_t i = 0; i < count; ++i) ASSERT_TRUE(window.accept(i)) << i;
  for (std::uint64_t i = count - kWindow - 1; i < count; ++i) ASSERT_FALSE(window.may_accept(i)) << i;
  EXPECT_TRUE(window.may_accept(count));
}

TEST(ReplayWindow, RefusesEverythingFromTheRejectLimitOn) {
  ReplayWindow window;
  EXPECT_FALSE(window.accept(kRejectAfterMessages));
  EXPECT_FALSE(window.accept(~0ULL));
  EXPECT_FALSE(window.highest());
  EXPECT_TRUE(window.accept(kRejectAfterMessages - 1));
  EXPECT_EQ(window.highest(), kRejectAfterMessages - 1);
}

TEST(ReplayWindow, ResetForgetsEverything) {
  ReplayWindow window;
  for (std::uint64_t i = 0; i < 1000; i += 3) ASSERT_TRUE(window.accept(i));
  window.reset();
  EXPECT_FALSE(window.highest());
  for (std::uint64_t i = 0; i < 1000; ++i) ASSERT_TRUE(window.accept(i)) << i;
}

// The rule in its plainest form: a set of everything accepted.
class NaiveWindow {
 public:
  bool accept(std::uint64_t counter) {
    if (counter >= kRejectAfterMessages) return false;
    if (!seen_.empty() && counter + kWindow < *seen_.rbegin()) return false;
    return seen_.insert(counter).second;
  }

 private:
  std::set<std::uint64_t> seen_;
};

TEST(ReplayWindow, AgreesWithANaiveSetOnRandomTraffic) {
  // Mostly a moving front with reordering, duplicates, stragglers from
  // beyond the window and the odd jump, so that every branch is taken.
  for (std::uint32_t seed = 1; seed <= 8; ++seed) {
    std::mt19937_64 random(seed);
    ReplayWindow window;
    NaiveWindow naive;
    // The last seed runs into the reject limit; the front stops a little
    // beyond it rather than wrapping around.
    std::uint64_t front = seed == 8 ? kRejectAfterMessages - 30000 : 0;
    const auto advance = [&](std::uint64_t by) { front = std::min(front + by, kRejectAfterMessages + 10); };
    for (int i = 0; i < 40000; ++i) {
      std::uint64_t counter = front;
      switch (random() % 8) {
        case 0:
        case 1:
        case 2:
          advance(1 + random() % 3);
          counter = front;
          break;
        case 3:  // reordered, near the front
          counter = front - std::min<std::uint64_t>(front, random() % 64);
          break;
        case 4:  // anywhere around the window's lower edge
          counter = front - std::min<std::uint64_t>(front, kWindow - 100 + random() % 200);
          break;
        case 5:  // deep in the window
          counter = front - std::min<std::uint64_t>(front, random() % kWindow);
          break;
        case 6:  // a jump
          advance(random() % (3 * ReplayWindow::kRingBits));
          counter = front;
          break;
        default:  // a duplicate of the front
          break;
      }
      const bool expected = naive.accept(counter);
      ASSERT_EQ(window.may_accept(counter), expected) << "seed " << seed << " step " << i << " counter " << counter;
      ASSERT_EQ(window.accept(counter), expected) << "seed " << seed << " step " << i << " counter " << counter;
    }
  }
}

}  // namespace
}  // namespace coral::wireguard
