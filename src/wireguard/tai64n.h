#pragma once
// TAI64N timestamps, the replay protection of handshake initiations
// (WireGuard paper, section 5.1): 8 bytes of big-endian TAI64 seconds (2^62
// plus the seconds since the Unix epoch, plus 10 for the TAI-UTC offset of
// 1972, as wireguard-go's 0x400000000000000a), then 4 bytes of big-endian
// nanoseconds. Responders only compare them, bytewise, so the exact epoch
// matters only for looking like the reference implementations.

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>

namespace coral::wireguard {

inline constexpr std::size_t kTai64nBytes = 12;
using Tai64n = std::array<std::uint8_t, kTai64nBytes>;

// The timestamp of `now` (wall-clock time: it must keep growing across
// restarts of the initiator, which a monotonic clock does not). The
// nanoseconds are rounded down to a multiple of 2^24 ns (about 16.8 ms), as
// wireguard-go does, so that the timestamp does not give away a precise
// clock to an observer who can decrypt it later; initiations are sent at
// most every 20 ms anyway.
Tai64n tai64n(std::chrono::system_clock::time_point now);

// True when `candidate` is strictly later than `latest` (equal is a replay).
bool tai64n_after(const Tai64n& candidate, const Tai64n& latest);

}  // namespace coral::wireguard
