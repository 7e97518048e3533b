#include "wireguard/replay_window.h"

#include <algorithm>

#include "wireguard/constants.h"

namespace coral::wireguard {
namespace {

static_assert(ReplayWindow::kWindowSize >= 2048, "the issue asks for a window of at least 2048 counters");
static_assert((ReplayWindow::kRingBits & (ReplayWindow::kRingBits - 1)) == 0, "the ring is indexed by masking");

std::uint64_t bit_of(std::uint64_t position) { return std::uint64_t{1} << (position % ReplayWindow::kBlockBits); }

}  // namespace

bool ReplayWindow::may_accept(std::uint64_t counter) const {
  if (counter >= kRejectAfterMessages) return false;
  // No overflow: counter < kRejectAfterMessages < 2^64 - 1.
  const std::uint64_t position = counter + 1;
  if (position > end_) return true;
  if (end_ - position > kWindowSize) return false;
  return (ring_[(position / kBlockBits) % kRingBlocks] & bit_of(position)) == 0;
}

bool ReplayWindow::accept(std::uint64_t counter) {
  if (!may_accept(counter)) return false;
  const std::uint64_t position = counter + 1;
  const std::uint64_t block = position / kBlockBits;
  if (position > end_) {
    // Clear the blocks the window slides onto; a jump of a whole ring or
    // more clears all of them (those bits are all older than the window).
    const std::uint64_t current = end_ / kBlockBits;
    const std::uint64_t steps = std::min<std::uint64_t>(block - current, kRingBlocks);
    for (std::uint64_t i = 1; i <= steps; ++i) ring_[(current + i) % kRingBlocks] = 0;
    end_ = position;
  }
  ring_[block % kRingBlocks] |= bit_of(position);
  return true;
}

std::optional<std::uint64_t> ReplayWindow::highest() const {
  if (end_ == 0) return std::nullopt;
  return end_ - 1;
}

void ReplayWindow::reset() {
  end_ = 0;
  ring_.fill(0);
}

}  // namespace coral::wireguard
