#pragma once
// The receive side's defence against replayed transport messages: a sliding
// window over the counters of one keypair (WireGuard paper, section 5.4.6),
// kept as the bitmap ring of RFC 6479 (the kernel's counter.c and
// wireguard-go's replay.go use the same layout).
//
// The window holds the highest counter accepted so far and the kWindowSize
// counters below it. A counter is accepted once: above the highest, or in
// the window and not seen yet. Anything older than the window is refused,
// as is any counter at or beyond kRejectAfterMessages (a keypair must not be
// used that far).
//
// Check, then commit: a transport message's counter is only known to be
// genuine after its tag verified, and marking the counter of a forged
// message would let an attacker burn counters (or slide the window past
// real traffic). So the receive path asks may_accept() before decrypting
// and accept() after the tag checked; accept() checks again, since other
// packets may have been accepted in between.
//
// Not thread-safe: the keypair that owns the window serializes access.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>

namespace coral::wireguard {

class ReplayWindow {
 public:
  static constexpr std::size_t kBlockBits = 64;
  static constexpr std::size_t kRingBits = 8192;
  // One block of the ring is the one being recycled as the window slides,
  // so the window is one block short of the ring: 8128 counters below the
  // highest (the kernel's COUNTER_WINDOW_SIZE).
  static constexpr std::uint64_t kWindowSize = kRingBits - kBlockBits;

  // Whether accept(counter) would return true now. Marks nothing.
  bool may_accept(std::uint64_t counter) const;
  // Checks the counter and, if it is fresh, marks it as seen and slides
  // the window up to it. Returns whether it was fresh. Call only for
  // messages that authenticated.
  bool accept(std::uint64_t counter);

  // The highest counter accepted so far; nullopt before the first.
  std::optional<std::uint64_t> highest() const;

  // Back to the state of a new window (for a keypair's slot being reused).
  void reset();

 private:
  static constexpr std::size_t kRingBlocks = kRingBits / kBlockBits;

  // Counters are stored shifted up by one ("position" = counter + 1), so
  // that position 0 stands for "nothing accepted yet" and the first counter
  // (0) needs no special case.
  //
  // end_: the position of the highest accepted counter (0 before any).
  // Bit p % kBlockBits of ring_[(p / kBlockBits) % kRingBlocks] is set when
  // the counter at position p, within the window, was accepted. Blocks
  // above end_'s block hold stale bits until the window slides over them,
  // which clears them.
  std::uint64_t end_ = 0;
  std::array<std::uint64_t, kRingBlocks> ring_{};
};

}  // namespace coral::wireguard
