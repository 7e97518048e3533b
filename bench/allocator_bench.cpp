// coral-allocator-bench: the cost of the mesh IP allocator (src/mesh/
// ip_allocator.h) as the number of peers grows, in one 127.42.0.0/16.
//
// BM_Churn/fill:N fills the pool to N peers (indexes 2 .. N+1), then times
// one churn step per iteration: allocate() (the lowest free index) and
// release() of a random peer among up to 1024 sampled from the whole
// occupied range (or of the new one), so the fill level stays N and the
// freed index, which the next allocate() takes, lies anywhere in the
// occupied part of the pool. fill:0 is the baseline (allocate and release
// the same index in an empty pool). bench/allocator.sh prints the ratios;
// the goal is cost(60000) / cost(1000) ≈ 1.
//
// BM_ChurnFlatScan/fill:N is a control: the same steps on a plain bitmap
// searched from its first word, whose cost does grow with the peers. It
// shows that the benchmark would see such growth.
//
// BM_Replay/peers:N times a restart: a new allocator and reserve() of N
// persisted indexes (in a shuffled order), per peer.

#include "mesh/ip_allocator.h"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <numeric>
#include <optional>
#include <random>
#include <vector>

namespace {

using coral::mesh::IpAllocator;

IpAllocator make_pool() { return *IpAllocator::create("127.42.0.0/16", "fdc0:42::/64"); }

// xorshift64: cheap next-victim picks, the same for every fill level.
struct XorShift {
  std::uint64_t state = 0x9e3779b97f4a7c15ULL;
  std::uint64_t operator()() {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state;
  }
};

// The coral allocator, as the churn loop uses it.
struct Coral {
  IpAllocator allocator = make_pool();
  std::optional<std::uint32_t> allocate() {
    auto assignment = allocator.allocate();
    benchmark::DoNotOptimize(assignment);
    return assignment ? std::optional(assignment->index) : std::nullopt;
  }
  void release(std::uint32_t index) { allocator.release(index); }
  std::size_t in_use() const { return allocator.in_use(); }
};

// The control: one bit per index of the /16 (0, 1 and 65535 taken), the
// lowest free index found by scanning words from the start.
struct FlatScan {
  std::vector<std::uint64_t> words = std::vector<std::uint64_t>(1024, 0);
  std::size_t used = 0;
  FlatScan() {
    words.front() = 0b11;
    words.back() = std::uint64_t{1} << 63;
  }
  std::optional<std::uint32_t> allocate() {
    for (std::size_t w = 0; w < words.size(); ++w) {
      if (words[w] != ~std::uint64_t{0}) {
        const auto bit = static_cast<unsigned>(std::countr_one(words[w]));
        words[w] |= std::uint64_t{1} << bit;
        ++used;
        return static_cast<std::uint32_t>(w * 64 + bit);
      }
    }
    return std::nullopt;
  }
  void release(std::uint32_t index) {
    words[index / 64] &= ~(std::uint64_t{1} << (index % 64));
    --used;
  }
  std::size_t in_use() const { return used; }
};

template <typename Pool>
void churn(benchmark::State& state) {
  const auto fill = static_cast<std::size_t>(state.range(0));
  Pool pool;
  std::vector<std::uint32_t> peers;
  peers.reserve(fill);
  for (std::size_t i = 0; i < fill; ++i) peers.push_back(*pool.allocate());
  // The peers that come and go: a random sample of at most 1024 of them, so
  // that the benchmark's own data stays the same size (4 KiB) at every fill
  // level and only the allocator's working set grows.
  std::shuffle(peers.begin(), peers.end(), std::mt19937(7));
  std::vector<std::uint32_t> victims(peers.begin(), peers.begin() + std::ptrdiff_t(std::min<std::size_t>(fill, 1024)));
  peers = {};
  XorShift random;
  auto step = [&] {
    const std::uint32_t index = *pool.allocate();
    const std::size_t victim = random() % (victims.size() + 1);
    if (victim == victims.size()) {
      pool.release(index);
    } else {
      pool.release(victims[victim]);
      victims[victim] = index;
    }
  };
  for (int i = 0; i < 5000; ++i) step();  // untimed warm-up
  for (auto _ : state) step();
  if (pool.in_use() != fill) state.SkipWithError("fill level drifted");
  state.counters["in_use"] = static_cast<double>(pool.in_use());
  state.SetItemsProcessed(state.iterations());
}

void BM_Churn(benchmark::State& state) { churn<Coral>(state); }
BENCHMARK(BM_Churn)->ArgName("fill")->Arg(0)->Arg(1000)->Arg(10000)->Arg(60000)->Arg(65000);

void BM_ChurnFlatScan(benchmark::State& state) { churn<FlatScan>(state); }
BENCHMARK(BM_ChurnFlatScan)->ArgName("fill")->Arg(1000)->Arg(60000);

void BM_Replay(benchmark::State& state) {
  const auto peers = static_cast<std::uint32_t>(state.range(0));
  std::vector<std::uint32_t> indexes(peers);
  std::iota(indexes.begin(), indexes.end(), IpAllocator::first_index());
  std::shuffle(indexes.begin(), indexes.end(), std::mt19937(42));
  for (auto _ : state) {
    IpAllocator allocator = make_pool();
    for (std::uint32_t index : indexes) benchmark::DoNotOptimize(allocator.reserve(index));
    benchmark::DoNotOptimize(allocator.allocate());
  }
  state.SetItemsProcessed(state.iterations() * peers);
}
BENCHMARK(BM_Replay)->ArgName("peers")->Arg(1000)->Arg(60000);

}  // namespace

BENCHMARK_MAIN();
