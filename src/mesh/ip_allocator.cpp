#include "mesh/ip_allocator.h"

#include <bit>
#include <utility>

namespace coral::mesh {
namespace {

constexpr std::uint64_t all_ones = ~std::uint64_t{0};
constexpr unsigned min_ipv4_prefix = 8;
constexpr unsigned max_ipv4_prefix = 30;
constexpr unsigned min_ipv6_prefix = 64;
constexpr unsigned max_ipv6_prefix = 120;

bool test_bit(const std::vector<std::uint64_t>& words, std::size_t bit) { return (words[bit / 64] >> (bit % 64)) & 1; }

}  // namespace

std::expected<IpAllocator, std::string> IpAllocator::create(base::Cidr ipv4_net, base::Cidr ipv6_net) {
  if (!ipv4_net.is_ipv4()) {
    return std::unexpected("mesh IPv4 subnet " + ipv4_net.to_string() + " is not an IPv4 prefix");
  }
  if (!ipv6_net.is_ipv6()) {
    return std::unexpected("mesh IPv6 subnet " + ipv6_net.to_string() + " is not an IPv6 prefix");
  }
  if (ipv4_net.prefix_length() < min_ipv4_prefix || ipv4_net.prefix_length() > max_ipv4_prefix) {
    return std::unexpected("mesh IPv4 subnet " + ipv4_net.to_string() + ": the prefix length must be /8 to /30");
  }
  if (ipv6_net.prefix_length() < min_ipv6_prefix || ipv6_net.prefix_length() > max_ipv6_prefix) {
    return std::unexpected("mesh IPv6 subnet " + ipv6_net.to_string() + ": the prefix length must be /64 to /120");
  }
  if (ipv6_net.host_bits() < ipv4_net.host_bits()) {
    return std::unexpected("mesh IPv6 subnet " + ipv6_net.to_string() + " (" + std::to_string(ipv6_net.size()) +
                           " addresses) is smaller than the IPv4 subnet " + ipv4_net.to_string() + " (" +
                           std::to_string(ipv4_net.size()) + " addresses): use an IPv6 prefix of /" +
                           std::to_string(128 - ipv4_net.host_bits()) + " or shorter");
  }
  return IpAllocator(std::move(ipv4_net), std::move(ipv6_net));
}

std::expected<IpAllocator, std::string> IpAllocator::create(std::string_view ipv4_net, std::string_view ipv6_net) {
  auto v4 = base::Cidr::parse(ipv4_net);
  if (!v4) return std::unexpected(v4.error());
  auto v6 = base::Cidr::parse(ipv6_net);
  if (!v6) return std::unexpected(v6.error());
  return create(*v4, *v6);
}

IpAllocator::IpAllocator(base::Cidr ipv4_net, base::Cidr ipv6_net)
    : ipv4_net_(std::move(ipv4_net)), ipv6_net_(std::move(ipv6_net)) {
  const std::size_t indexes = std::size_t{1} << ipv4_net_.host_bits();  // 4 .. 2^24
  last_index_ = static_cast<std::uint32_t>(indexes - 2);
  // Level 0 has a bit per index; each further level a bit per word below,
  // until one word is left. Bits past the end count as taken / full.
  std::size_t bits = indexes;
  do {
    const std::size_t words = (bits + 63) / 64;
    std::vector<std::uint64_t> level(words, 0);
    if (bits % 64 != 0) level.back() = all_ones << (bits % 64);
    levels_.push_back(std::move(level));
    bits = words;
  } while (levels_.back().size() > 1);
  // The network address, the colony's own and the broadcast. The pool has
  // at least one peer index (a /30 has index 2), so no word fills up here
  // except, for a /30, the single word of the only level.
  levels_[0][0] |= 0b11;
  levels_[0][(indexes - 1) / 64] |= std::uint64_t{1} << ((indexes - 1) % 64);
}

Assignment IpAllocator::make_assignment(std::uint32_t index) const {
  return Assignment{index, *ipv4_net_.ipv4_at(index), *ipv6_net_.ipv6_at(index)};
}

void IpAllocator::mark_taken(std::uint32_t index) {
  std::size_t bit = index;
  for (auto& level : levels_) {
    std::uint64_t& word = level[bit / 64];
    word |= std::uint64_t{1} << (bit % 64);
    if (word != all_ones) break;  // the word above stays "not full"
    bit /= 64;
  }
  ++in_use_;
}

void IpAllocator::mark_free(std::uint32_t index) {
  std::size_t bit = index;
  for (auto& level : levels_) {
    std::uint64_t& word = level[bit / 64];
    const bool was_full = word == all_ones;
    word &= ~(std::uint64_t{1} << (bit % 64));
    if (!was_full) break;  // the word above already says "not full"
    bit /= 64;
  }
  --in_use_;
}

std::expected<Assignment, AllocError> IpAllocator::allocate() {
  if (levels_.back()[0] == all_ones) {
    return std::unexpected(AllocError{AllocError::exhausted, "mesh subnet " + ipv4_net_.to_string() + " is full: " +
                                                                 std::to_string(capacity()) + " peers"});
  }
  // Walk down from the top: in each word, the lowest clear bit leads to the
  // lowest word below with a free index.
  std::size_t word = 0;
  for (std::size_t level = levels_.size(); level-- > 0;) {
    word = word * 64 + static_cast<std::size_t>(std::countr_one(levels_[level][word]));
  }
  const auto index = static_cast<std::uint32_t>(word);
  mark_taken(index);
  return make_assignment(index);
}

bool IpAllocator::reserve(std::uint32_t index) {
  if (index < first_index() || index > last_index_ || test_bit(levels_[0], index)) return false;
  mark_taken(index);
  return true;
}

bool IpAllocator::release(std::uint32_t index) {
  if (index < first_index() || index > last_index_ || !test_bit(levels_[0], index)) return false;
  mark_free(index);
  return true;
}

bool IpAllocator::is_taken(std::uint32_t index) const {
  return index >= first_index() && index <= last_index_ && test_bit(levels_[0], index);
}

std::optional<Assignment> IpAllocator::assignment(std::uint32_t index) const {
  if (index < first_index() || index > last_index_) return std::nullopt;
  return make_assignment(index);
}

std::optional<std::uint32_t> IpAllocator::index_of(std::string_view address) const {
  std::optional<std::uint64_t> index;
  if (const auto v4 = base::parse_ipv4(address)) {
    index = ipv4_net_.index_of(*v4);
  } else if (const auto v6 = base::parse_ipv6(address)) {
    index = ipv6_net_.index_of(*v6);
  }
  if (!index || *index < first_index() || *index > last_index_) return std::nullopt;
  return static_cast<std::uint32_t>(*index);
}

Assignment IpAllocator::colony() const { return make_assignment(1); }

}  // namespace coral::mesh
