// How `coral colony status` renders durations and sizes.

#include "cli/context.h"

#include <gtest/gtest.h>

#include <climits>

namespace coral::cli {
namespace {

TEST(FormatUptime, ShowsTheLargestUnits) {
  EXPECT_EQ(format_uptime(0), "0s");
  EXPECT_EQ(format_uptime(12), "12s");
  EXPECT_EQ(format_uptime(59), "59s");
  EXPECT_EQ(format_uptime(60), "1m 0s");
  EXPECT_EQ(format_uptime(5 * 60 + 3), "5m 3s");
  EXPECT_EQ(format_uptime(3599), "59m 59s");
  EXPECT_EQ(format_uptime(3600), "1h 0m");
  EXPECT_EQ(format_uptime(2 * 3600 + 15 * 60 + 59), "2h 15m");  // seconds dropped
  EXPECT_EQ(format_uptime(86399), "23h 59m");
  EXPECT_EQ(format_uptime(86400), "1d 0h 0m");
  EXPECT_EQ(format_uptime(4 * 86400 + 2 * 3600 + 15 * 60 + 7), "4d 2h 15m");
  EXPECT_EQ(format_uptime(400 * 86400LL), "400d 0h 0m");
}

TEST(FormatUptime, NegativeIsZero) {
  // A clock that went backwards must not print "-5s".
  EXPECT_EQ(format_uptime(-5), "0s");
  EXPECT_EQ(format_uptime(LLONG_MIN), "0s");
}

TEST(FormatBytes, BytesBelowOneKiB) {
  EXPECT_EQ(format_bytes(0), "0 B");
  EXPECT_EQ(format_bytes(1), "1 B");
  EXPECT_EQ(format_bytes(816), "816 B");
  EXPECT_EQ(format_bytes(1023), "1023 B");
}

TEST(FormatBytes, OneDecimalBelowTenThenWholeNumbers) {
  EXPECT_EQ(format_bytes(1024), "1.0 KiB");
  EXPECT_EQ(format_bytes(1536), "1.5 KiB");
  EXPECT_EQ(format_bytes(9 * 1024), "9.0 KiB");
  EXPECT_EQ(format_bytes(10 * 1024), "10 KiB");
  EXPECT_EQ(format_bytes(532 * 1024), "532 KiB");
  EXPECT_EQ(format_bytes(1258291), "1.2 MiB");  // 1.2 MiB
  EXPECT_EQ(format_bytes(1024ULL * 1024 * 1024), "1.0 GiB");
  EXPECT_EQ(format_bytes(3ULL << 40), "3.0 TiB");
}

TEST(FormatBytes, TebibytesIsTheLargestUnit) {
  EXPECT_EQ(format_bytes(2048ULL << 40), "2048 TiB");
  EXPECT_EQ(format_bytes(ULLONG_MAX), "16777216 TiB");
}

TEST(FormatBytes, RoundingNeverShowsTheNextUnitsWorthOrTenPointZero) {
  // Just under 1 MiB rounds to 1024 KiB: it reads as the next unit.
  EXPECT_EQ(format_bytes(1024 * 1024 - 1), "1.0 MiB");
  EXPECT_EQ(format_bytes(1024ULL * 1024 * 1024 - 1), "1.0 GiB");
  // Just under 10 KiB rounds to 10: whole numbers from there on.
  EXPECT_EQ(format_bytes(10 * 1024 - 1), "10 KiB");
  EXPECT_EQ(format_bytes(1023 * 1024), "1023 KiB");
}

}  // namespace
}  // namespace coral::cli
