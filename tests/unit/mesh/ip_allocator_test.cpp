#include "mesh/ip_allocator.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <tuple>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace coral::mesh {
namespace {

IpAllocator make(std::string_view ipv4_net, std::string_view ipv6_net) {
  auto allocator = IpAllocator::create(ipv4_net, ipv6_net);
  EXPECT_TRUE(allocator) << ipv4_net << " " << ipv6_net << ": " << allocator.error();
  return std::move(*allocator);
}

std::string create_error(std::string_view ipv4_net, std::string_view ipv6_net) {
  auto allocator = IpAllocator::create(ipv4_net, ipv6_net);
  EXPECT_FALSE(allocator) << ipv4_net << " " << ipv6_net;
  return allocator ? "" : allocator.error();
}

std::uint32_t allocate_index(IpAllocator& allocator) {
  auto assignment = allocator.allocate();
  EXPECT_TRUE(assignment) << assignment.error().message;
  return assignment ? assignment->index : 0;
}

TEST(IpAllocator, PairsBothFamiliesByIndex) {
  IpAllocator allocator = make("10.42.0.0/16", "fd42::/64");
  EXPECT_EQ(allocator.capacity(), 65533U);
  EXPECT_EQ(allocator.in_use(), 0U);

  const Assignment colony = allocator.colony();
  EXPECT_EQ(colony.index, 1U);
  EXPECT_EQ(colony.ipv4_text(), "10.42.0.1");
  EXPECT_EQ(colony.ipv6_text(), "fd42::1");

  auto first = allocator.allocate();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->index, 2U);
  EXPECT_EQ(first->ipv4, (base::Ipv4Bytes{10, 42, 0, 2}));
  EXPECT_EQ(first->ipv6, *base::parse_ipv6("fd42::2"));
  for (int i = 3; i < 15; ++i) allocate_index(allocator);
  auto fifteenth = allocator.allocate();
  ASSERT_TRUE(fifteenth);
  EXPECT_EQ(fifteenth->index, 15U);
  EXPECT_EQ(fifteenth->ipv4_text(), "10.42.0.15");
  EXPECT_EQ(fifteenth->ipv6_text(), "fd42::f");  // the RFD's example pair
  EXPECT_EQ(allocator.in_use(), 14U);
  EXPECT_TRUE(allocator.is_taken(15));
  EXPECT_FALSE(allocator.is_taken(16));
  EXPECT_FALSE(allocator.is_taken(1));  // the colony's is not a peer's
}

TEST(IpAllocator, FormatsIpv6PairsCanonically) {
  // A random RFC 4193 prefix, as coral init picks one.
  IpAllocator allocator = make("10.42.0.0/16", "fd12:3456:789a:bcde::/64");
  EXPECT_EQ(allocator.colony().ipv6_text(), "fd12:3456:789a:bcde::1");
  const auto at = [&](std::uint32_t index) {
    const auto a = allocator.assignment(index);
    EXPECT_TRUE(a) << index;
    return a ? a->ipv4_text() + " " + a->ipv6_text() : "";
  };
  EXPECT_EQ(at(2), "10.42.0.2 fd12:3456:789a:bcde::2");
  EXPECT_EQ(at(255), "10.42.0.255 fd12:3456:789a:bcde::ff");
  EXPECT_EQ(at(256), "10.42.1.0 fd12:3456:789a:bcde::100");
  EXPECT_EQ(at(300), "10.42.1.44 fd12:3456:789a:bcde::12c");
  EXPECT_EQ(at(65534), "10.42.255.254 fd12:3456:789a:bcde::fffe");
  EXPECT_FALSE(allocator.assignment(0));
  EXPECT_FALSE(allocator.assignment(1));
  EXPECT_FALSE(allocator.assignment(65535));
  // A /112 holds exactly the /16's indexes; a smaller prefix sits at its end.
  IpAllocator narrow = make("10.42.0.0/24", "fd42::ab:0/120");
  EXPECT_EQ(narrow.assignment(254)->ipv6_text(), "fd42::ab:fe");
  EXPECT_EQ(narrow.assignment(2)->ipv6_text(), "fd42::ab:2");
}

TEST(IpAllocator, NeverGivesTheNetworkTheColonyOrTheBroadcast) {
  IpAllocator allocator = make("10.42.7.0/24", "fd42::/64");
  std::set<std::string> ipv4s;
  std::set<std::string> ipv6s;
  while (auto assignment = allocator.allocate()) {
    ipv4s.insert(assignment->ipv4_text());
    ipv6s.insert(assignment->ipv6_text());
  }
  EXPECT_EQ(ipv4s.size(), 253U);
  EXPECT_EQ(ipv6s.size(), 253U);
  EXPECT_EQ(allocator.in_use(), 253U);
  for (const char* reserved : {"10.42.7.0", "10.42.7.1", "10.42.7.255"}) EXPECT_FALSE(ipv4s.contains(reserved)) << reserved;
  for (const char* reserved : {"fd42::", "fd42::1", "fd42::ff"}) EXPECT_FALSE(ipv6s.contains(reserved)) << reserved;
  EXPECT_TRUE(ipv4s.contains("10.42.7.2"));
  EXPECT_TRUE(ipv4s.contains("10.42.7.254"));
  EXPECT_TRUE(ipv6s.contains("fd42::fe"));
}

TEST(IpAllocator, SmallSubnetRunsOutWithAClearError) {
  IpAllocator allocator = make("10.42.0.0/29", "fd42::/64");
  EXPECT_EQ(allocator.capacity(), 5U);
  std::vector<std::string> given;
  for (int i = 0; i < 5; ++i) {
    auto assignment = allocator.allocate();
    ASSERT_TRUE(assignment) << i;
    given.push_back(assignment->ipv4_text());
  }
  EXPECT_EQ(given, (std::vector<std::string>{"10.42.0.2", "10.42.0.3", "10.42.0.4", "10.42.0.5", "10.42.0.6"}));
  auto full = allocator.allocate();
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code, AllocError::exhausted);
  EXPECT_EQ(full.error().message, "mesh subnet 10.42.0.0/29 is full: 5 peers");
  EXPECT_FALSE(allocator.allocate());  // still full, nothing changed
  EXPECT_EQ(allocator.in_use(), 5U);

  EXPECT_TRUE(allocator.release(4));
  auto again = allocator.allocate();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->ipv4_text(), "10.42.0.4");
  EXPECT_FALSE(allocator.allocate());
}

TEST(IpAllocator, SmallestSubnetHasOnePeer) {
  IpAllocator allocator = make("10.42.0.0/30", "fd42::/120");
  EXPECT_EQ(allocator.capacity(), 1U);
  EXPECT_EQ(allocator.last_index(), 2U);
  EXPECT_EQ(allocator.allocate()->ipv4_text(), "10.42.0.2");
  EXPECT_EQ(allocator.allocate().error().message, "mesh subnet 10.42.0.0/30 is full: 1 peers");
}

TEST(IpAllocator, FullSixteenSaysHowManyPeers) {
  IpAllocator allocator = make("10.42.0.0/16", "fd42::/64");
  Assignment last;
  for (std::size_t i = 0; i < 65533; ++i) {
    auto assignment = allocator.allocate();
    ASSERT_TRUE(assignment) << i;
    ASSERT_EQ(assignment->index, i + 2);
    last = *assignment;
  }
  EXPECT_EQ(last.ipv4_text(), "10.42.255.254");
  EXPECT_EQ(last.ipv6_text(), "fd42::fffe");
  auto full = allocator.allocate();
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().message, "mesh subnet 10.42.0.0/16 is full: 65533 peers");
  // Freeing one deep in the pool makes exactly that one available.
  ASSERT_TRUE(allocator.release(40000));
  EXPECT_EQ(allocate_index(allocator), 40000U);
  EXPECT_FALSE(allocator.allocate());
}

TEST(IpAllocator, ReusesTheLowestReleasedIndexFirst) {
  IpAllocator allocator = make("10.42.0.0/16", "fd42::/64");
  for (int i = 0; i < 10; ++i) allocate_index(allocator);  // 2 .. 11
  EXPECT_TRUE(allocator.release(7));
  EXPECT_TRUE(allocator.release(4));
  EXPECT_TRUE(allocator.release(9));
  EXPECT_EQ(allocator.in_use(), 7U);
  EXPECT_EQ(allocate_index(allocator), 4U);
  EXPECT_EQ(allocate_index(allocator), 7U);
  EXPECT_EQ(allocate_index(allocator), 9U);
  EXPECT_EQ(allocate_index(allocator), 12U);
  EXPECT_EQ(allocator.in_use(), 11U);
  // Release across a 64-bit word boundary and beyond.
  for (int i = 0; i < 200; ++i) allocate_index(allocator);  // up to 212
  for (std::uint32_t index : {200U, 130U, 64U, 63U, 128U}) EXPECT_TRUE(allocator.release(index));
  for (std::uint32_t expected : {63U, 64U, 128U, 130U, 200U, 213U}) EXPECT_EQ(allocate_index(allocator), expected);
}

TEST(IpAllocator, ReplayingPersistedAssignmentsContinuesWhereItLeftOff) {
  IpAllocator before = make("10.42.0.0/16", "fd42::/64");
  // What the colony would have stored: peer -> (ipv4, ipv6).
  std::vector<Assignment> stored;
  for (int i = 0; i < 300; ++i) stored.push_back(*before.allocate());
  std::erase_if(stored, [&](const Assignment& a) {
    const bool drop = a.index % 7 == 3 || (a.index >= 100 && a.index < 140);
    if (drop) {
      EXPECT_TRUE(before.release(a.index));
    }
    return drop;
  });

  // Restart: a new allocator replays the stored rows, by address.
  IpAllocator after = make("10.42.0.0/16", "fd42::/64");
  for (const Assignment& a : stored) {
    const auto index = after.index_of(a.ipv4_text());
    ASSERT_TRUE(index) << a.ipv4_text();
    EXPECT_EQ(after.index_of(a.ipv6_text()), index);
    EXPECT_TRUE(after.reserve(*index));
    EXPECT_EQ(after.assignment(*index), a);
  }
  EXPECT_EQ(after.in_use(), before.in_use());
  for (std::uint32_t i = 0; i <= 400; ++i) EXPECT_EQ(after.is_taken(i), before.is_taken(i)) << i;
  // Both hand out the same addresses from here on: the holes first.
  const std::size_t holes = 300 - stored.size();
  EXPECT_EQ(holes, 77U);
  for (std::size_t i = 0; i < holes; ++i) {
    auto a = before.allocate();
    auto b = after.allocate();
    ASSERT_TRUE(a && b);
    EXPECT_EQ(*a, *b);
    EXPECT_LT(b->index, 302U);
  }
  EXPECT_EQ(after.allocate()->index, 302U);
  EXPECT_EQ(before.allocate()->index, 302U);
  // Replaying the same rows twice is caught.
  EXPECT_FALSE(after.reserve(stored.front().index));
}

TEST(IpAllocator, ReserveAndReleaseRejectWhatIsNotAPeerIndex) {
  IpAllocator allocator = make("10.42.0.0/24", "fd42::/64");
  EXPECT_EQ(allocator.last_index(), 254U);
  for (std::uint32_t index : {0U, 1U, 255U, 256U, 70000U, 0xffffffffU}) {
    EXPECT_FALSE(allocator.reserve(index)) << index;
    EXPECT_FALSE(allocator.release(index)) << index;
    EXPECT_FALSE(allocator.is_taken(index)) << index;
  }
  EXPECT_TRUE(allocator.reserve(254));
  EXPECT_FALSE(allocator.reserve(254));  // duplicate
  EXPECT_TRUE(allocator.reserve(2));
  EXPECT_FALSE(allocator.reserve(2));
  EXPECT_EQ(allocator.in_use(), 2U);
  EXPECT_EQ(allocate_index(allocator), 3U);  // reserved ones are skipped
  EXPECT_FALSE(allocator.release(4));        // never taken
  EXPECT_TRUE(allocator.release(254));
  EXPECT_FALSE(allocator.release(254));      // already free
  EXPECT_EQ(allocator.in_use(), 2U);
}

TEST(IpAllocator, IndexOfTakesEitherFamily) {
  IpAllocator allocator = make("10.42.0.0/16", "fd42::/64");
  EXPECT_EQ(allocator.index_of("10.42.0.15"), 15U);
  EXPECT_EQ(allocator.index_of("fd42::f"), 15U);
  EXPECT_EQ(allocator.index_of("FD42:0::F"), 15U);
  EXPECT_EQ(allocator.index_of("10.42.255.254"), 65534U);
  EXPECT_EQ(allocator.index_of("fd42::fffe"), 65534U);
  for (const char* address : {"10.42.0.0", "10.42.0.1", "10.42.255.255", "10.43.0.2", "fd42::", "fd42::1", "fd42::ffff",
                              "fd42::1:0", "fd43::2", "::ffff:10.42.0.2", "", "peer"}) {
    EXPECT_FALSE(allocator.index_of(address)) << address;
  }
}

TEST(IpAllocator, LoopbackSubnetsWork) {
  // Host-network tests and the demo give colonies 127.42.0.0/16.
  IpAllocator allocator = make("127.42.0.0/16", "fd42::/64");
  EXPECT_EQ(allocator.colony().ipv4_text(), "127.42.0.1");
  auto peer = allocator.allocate();
  ASSERT_TRUE(peer);
  EXPECT_EQ(peer->ipv4_text(), "127.42.0.2");
  EXPECT_EQ(peer->ipv6_text(), "fd42::2");
  EXPECT_TRUE(allocator.ipv4_net().contains(peer->ipv4));
  EXPECT_EQ(allocator.ipv4_net().to_string(), "127.42.0.0/16");
  EXPECT_EQ(allocator.ipv6_net().to_string(), "fd42::/64");
}

TEST(IpAllocator, LargestSubnetCrossesEveryLevel) {
  IpAllocator allocator = make("10.0.0.0/8", "fd42::/64");
  EXPECT_EQ(allocator.capacity(), (std::size_t{1} << 24) - 3);
  EXPECT_EQ(allocator.colony().ipv4_text(), "10.0.0.1");
  // Fill the first 64 * 64 + 5 indexes (a full second-level word).
  for (std::uint32_t index = 2; index < 4096 + 5; ++index) ASSERT_TRUE(allocator.reserve(index)) << index;
  EXPECT_EQ(allocate_index(allocator), 4101U);
  EXPECT_TRUE(allocator.reserve(allocator.last_index()));
  EXPECT_EQ(allocator.assignment(allocator.last_index())->ipv4_text(), "10.255.255.254");
  EXPECT_EQ(allocator.assignment(allocator.last_index())->ipv6_text(), "fd42::ff:fffe");
  EXPECT_TRUE(allocator.release(3));
  EXPECT_EQ(allocate_index(allocator), 3U);
  EXPECT_EQ(allocate_index(allocator), 4102U);
}

TEST(IpAllocator, RejectsUnsuitableSubnets) {
  EXPECT_EQ(create_error("10.0.0.0/7", "fd42::/64"), "mesh IPv4 subnet 10.0.0.0/7: the prefix length must be /8 to /30");
  EXPECT_EQ(create_error("10.42.0.0/31", "fd42::/64"),
            "mesh IPv4 subnet 10.42.0.0/31: the prefix length must be /8 to /30");
  EXPECT_EQ(create_error("10.42.0.0/16", "fd42::/48"),
            "mesh IPv6 subnet fd42::/48: the prefix length must be /64 to /120");
  EXPECT_EQ(create_error("10.42.0.0/16", "fd42::/121"),
            "mesh IPv6 subnet fd42::/121: the prefix length must be /64 to /120");
  EXPECT_EQ(create_error("10.42.0.0/16", "fd42::/120"),
            "mesh IPv6 subnet fd42::/120 (256 addresses) is smaller than the IPv4 subnet 10.42.0.0/16 "
            "(65536 addresses): use an IPv6 prefix of /112 or shorter");
  EXPECT_TRUE(IpAllocator::create("10.42.0.0/16", "fd42::/112"));
  EXPECT_TRUE(IpAllocator::create("10.42.0.0/24", "fd42::/120"));
  EXPECT_EQ(create_error("fd42::/64", "fd42::/64"), "mesh IPv4 subnet fd42::/64 is not an IPv4 prefix");
  EXPECT_EQ(create_error("10.42.0.0/16", "10.43.0.0/16"), "mesh IPv6 subnet 10.43.0.0/16 is not an IPv6 prefix");
  EXPECT_EQ(create_error("10.42.0.1/16", "fd42::/64"),
            "invalid CIDR \"10.42.0.1/16\": host bits set (did you mean 10.42.0.0/16?)");
  EXPECT_EQ(create_error("10.42.0.0/16", "fd42::"),
            "invalid CIDR \"fd42::\": the prefix length is missing (as in 10.42.0.0/16 or fd42::/64)");
}

// The naive model: a std::set of taken indexes, lowest free by a scan.
class Reference {
 public:
  explicit Reference(std::uint32_t last_index) : last_(last_index) {}
  std::optional<std::uint32_t> allocate() {
    std::uint32_t lowest = 2;
    for (std::uint32_t taken : taken_) {  // in order: stop at the first gap
      if (taken != lowest) break;
      ++lowest;
    }
    if (lowest > last_) return std::nullopt;
    taken_.insert(lowest);
    return lowest;
  }
  bool reserve(std::uint32_t i) { return i >= 2 && i <= last_ && taken_.insert(i).second; }
  bool release(std::uint32_t i) { return taken_.erase(i) == 1; }
  std::size_t size() const { return taken_.size(); }
  const std::set<std::uint32_t>& taken() const { return taken_; }

 private:
  std::uint32_t last_;
  std::set<std::uint32_t> taken_;
};

struct RunStats {
  int exhausted = 0;
  std::size_t most_in_use = 0;
};

RunStats run_against_reference(std::string_view ipv4_net, int operations, std::uint32_t seed) {
  RunStats stats;
  SCOPED_TRACE(std::string(ipv4_net));
  IpAllocator allocator = make(ipv4_net, "fd42::/64");
  Reference reference(allocator.last_index());
  std::mt19937 random(seed);
  const std::uint32_t span = allocator.last_index() + 4;
  // Phases favour allocation, then release, so the pool fills up, runs out
  // and drains again, several times.
  for (int op = 0; op < operations; ++op) {
    const bool filling = (op / 2000) % 2 == 0;
    const unsigned dice = random() % 100;
    if (dice < (filling ? 70U : 25U)) {
      const auto expected = reference.allocate();
      const auto got = allocator.allocate();
      EXPECT_EQ(got.has_value(), expected.has_value()) << "op " << op;
      if (got.has_value() != expected.has_value()) return stats;
      if (got) {
        EXPECT_EQ(got->index, *expected) << "op " << op;
        EXPECT_EQ(got->ipv4, *allocator.ipv4_net().ipv4_at(*expected));
        EXPECT_EQ(got->ipv6, *allocator.ipv6_net().ipv6_at(*expected));
        if (got->index != *expected) return stats;
      } else {
        EXPECT_EQ(got.error().code, AllocError::exhausted);
        ++stats.exhausted;
      }
    } else if (dice < 90) {
      // Mostly an index in use, sometimes any index.
      std::uint32_t index = random() % span;
      if (dice % 4 != 0 && reference.size() > 0) {
        auto it = reference.taken().lower_bound(index);
        if (it == reference.taken().end()) it = reference.taken().begin();
        index = *it;
      }
      EXPECT_EQ(allocator.release(index), reference.release(index)) << "op " << op << " release " << index;
    } else {
      const std::uint32_t index = random() % span;
      EXPECT_EQ(allocator.reserve(index), reference.reserve(index)) << "op " << op << " reserve " << index;
    }
    EXPECT_EQ(allocator.in_use(), reference.size()) << "op " << op;
    if (allocator.in_use() != reference.size()) return stats;
    stats.most_in_use = std::max(stats.most_in_use, allocator.in_use());
  }
  for (std::uint32_t i = 0; i < span; ++i) EXPECT_EQ(allocator.is_taken(i), reference.taken().contains(i)) << i;
  return stats;
}

TEST(IpAllocator, MatchesANaiveReferenceOnRandomOperations) {
  // Each run fills its pool and runs out several times, except the /18,
  // which reaches past a full second-level word (64 * 64 indexes).
  for (const auto& [net, operations, seed] : std::vector<std::tuple<const char*, int, std::uint32_t>>{
           {"10.42.0.0/30", 2000, 1},    // one peer
           {"10.42.0.0/29", 5000, 2},    // five
           {"10.42.0.0/26", 20000, 3},   // exactly one word
           {"10.42.0.0/25", 20000, 4},   // two levels, padded summary word
           {"10.42.0.0/22", 40000, 5}}) {
    const RunStats stats = run_against_reference(net, operations, seed);
    EXPECT_GT(stats.exhausted, 10) << net;
  }
  const RunStats stats = run_against_reference("10.42.0.0/18", 30000, 6);  // three levels
  EXPECT_GT(stats.most_in_use, 4096U + 64U);
}

}  // namespace
}  // namespace coral::mesh
