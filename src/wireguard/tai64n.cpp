#include "wireguard/tai64n.h"

#include <algorithm>

namespace coral::wireguard {
namespace {

constexpr std::uint64_t kTai64Base = 0x400000000000000aULL;
constexpr std::uint32_t kWhitenerMask = (1U << 24) - 1;

}  // namespace

Tai64n tai64n(std::chrono::system_clock::time_point now) {
  using namespace std::chrono;
  // floor, not duration_cast: times before 1970 keep non-negative
  // nanoseconds.
  const auto seconds = floor<std::chrono::seconds>(now);
  const auto nanos = static_cast<std::uint32_t>(duration_cast<nanoseconds>(now - seconds).count());
  const std::uint64_t tai_seconds = kTai64Base + static_cast<std::uint64_t>(seconds.time_since_epoch().count());
  const std::uint32_t whitened = nanos & ~kWhitenerMask;
  Tai64n out{};
  for (std::size_t i = 0; i < 8; ++i) out[i] = static_cast<std::uint8_t>(tai_seconds >> (56 - 8 * i));
  for (std::size_t i = 0; i < 4; ++i) out[8 + i] = static_cast<std::uint8_t>(whitened >> (24 - 8 * i));
  return out;
}

bool tai64n_after(const Tai64n& candidate, const Tai64n& latest) {
  // Big-endian fields, seconds first: byte order is time order.
  return std::lexicographical_compare(latest.begin(), latest.end(), candidate.begin(), candidate.end());
}

}  // namespace coral::wireguard
