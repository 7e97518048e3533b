#pragma once
// The protocol's constants (WireGuard paper, section 6.1) and the timings
// derived from them. Timings is a value so that tests (and the test-only
// knob of `coral wg up`) can shorten the rekey interval; production code
// uses the defaults.

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace coral::wireguard {

using Duration = std::chrono::steady_clock::duration;
// Protocol time: a monotonic clock, passed in (the core never reads clocks).
using Time = std::chrono::steady_clock::time_point;

inline constexpr std::uint64_t kRekeyAfterMessages = 1ULL << 60;
inline constexpr std::uint64_t kRejectAfterMessages = ~0ULL - (1ULL << 13);  // 2^64 - 2^13 - 1
inline constexpr std::size_t kMaxTimerHandshakes = 90 / 5;                   // REKEY_ATTEMPT_TIME / REKEY_TIMEOUT

struct Timings {
  Duration rekey_after_time = std::chrono::seconds(120);
  Duration reject_after_time = std::chrono::seconds(180);
  Duration rekey_attempt_time = std::chrono::seconds(90);
  Duration rekey_timeout = std::chrono::seconds(5);
  Duration keepalive_timeout = std::chrono::seconds(10);
  Duration cookie_refresh_time = std::chrono::seconds(120);
  // At most one initiation per peer per this interval (the paper's 1/50 s).
  Duration handshake_initiation_rate = std::chrono::milliseconds(20);
  // Added at random (0 to this) to each REKEY_TIMEOUT retry.
  Duration rekey_timeout_jitter = std::chrono::milliseconds(333);
};

// Transport data: header (type, receiver index, counter) and tag.
inline constexpr std::size_t kTransportHeaderBytes = 16;
inline constexpr std::size_t kAeadTagBytes = 16;
// Plaintext is zero-padded to a multiple of this.
inline constexpr std::size_t kPaddingMultiple = 16;

}  // namespace coral::wireguard
