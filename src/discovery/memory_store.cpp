#include "discovery/memory_store.h"

#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/memory.h"

namespace coral::discovery {
namespace {

// Leases in an unordered_map keyed by mesh_id, plus a binary min-heap of
// the map's entries ordered by expires_at, in which every entry knows its
// position. So:
//  * put / get: one hash lookup, plus O(log n) to re-place the entry in the
//    heap when its expiry moves;
//  * purge_expired: O(k log n) for the k entries it removes, nothing else;
//  * count_live: entries minus the expired ones, found by walking only the
//    expired top of the heap (O(expired), nothing when purged regularly).
// Per colony that is the map node (key, Lease, hash, next pointer), one
// bucket and one heap slot (8 bytes): the mesh_id is stored once, as the key.
class MemoryStore final : public Store {
 public:
  MemoryStore(const base::Clock& clock, StoreLimits limits) : clock_(clock), limits_(limits) {}

  rpc::Awaitable<rpc::Result<PutResult>> put(ColonyRecord record) override { co_return do_put(std::move(record)); }

  rpc::Awaitable<rpc::Result<std::optional<ColonyRecord>>> get(std::string mesh_id) override {
    co_return do_get(mesh_id);
  }

  rpc::Awaitable<rpc::Result<std::size_t>> count_live() override { co_return leases_.size() - count_expired(); }

  rpc::Awaitable<rpc::Result<std::size_t>> purge_expired() override {
    const std::size_t purged = do_purge();
    if (purged > 0) release_memory();
    co_return purged;
  }

  rpc::Awaitable<rpc::Result<crypto::SecretKey>> shared_key(crypto::SecretKey candidate) override {
    co_return candidate;
  }

  std::string describe() const override { return "memory"; }

 private:
  // A ColonyRecord without its mesh_id (the map's key), plus a heap slot.
  struct Lease {
    std::string wireguard_pubkey;
    std::vector<std::string> public_endpoints;
    std::string mesh_ipv4;
    std::string mesh_ipv6;
    std::uint32_t connect_port = 0;
    std::uint32_t heap_index = 0;  // where this entry sits in heap_
    std::uint32_t bytes = 0;       // footprint(), counted in used_bytes_
    bool proven = false;
    std::vector<std::pair<std::string, std::string>> metadata;
    base::Clock::time_point last_seen;
    base::Clock::time_point expires_at;
  };
  using Map = std::unordered_map<std::string, Lease>;
  using Entry = Map::value_type;  // stable address until erased

  static void assign(Lease& lease, ColonyRecord&& record) {
    lease.wireguard_pubkey = std::move(record.wireguard_pubkey);
    lease.public_endpoints = std::move(record.public_endpoints);
    lease.mesh_ipv4 = std::move(record.mesh_ipv4);
    lease.mesh_ipv6 = std::move(record.mesh_ipv6);
    lease.connect_port = record.connect_port;
    lease.metadata = std::move(record.metadata);
    lease.last_seen = record.last_seen;
    lease.expires_at = record.expires_at;
    lease.proven = record.proven;
  }

  static ColonyRecord to_record(const Entry& entry) {
    const Lease& lease = entry.second;
    return ColonyRecord{
        .mesh_id = entry.first,
        .wireguard_pubkey = lease.wireguard_pubkey,
        .public_endpoints = lease.public_endpoints,
        .mesh_ipv4 = lease.mesh_ipv4,
        .mesh_ipv6 = lease.mesh_ipv6,
        .connect_port = lease.connect_port,
        .metadata = lease.metadata,
        .last_seen = lease.last_seen,
        .expires_at = lease.expires_at,
        .proven = lease.proven,
    };
  }

  bool live(const Lease& lease) const { return clock_.now() < lease.expires_at; }

  // Whether `bytes` more (and a new record, when `adds_record`) fit.
  bool fits(std::size_t bytes, bool adds_record) const {
    if (adds_record && leases_.size() >= limits_.max_records) return false;
    return used_bytes_ + bytes <= limits_.max_bytes;
  }

  PutResult do_put(ColonyRecord&& record) {
    const base::Clock::time_point now = clock_.now();
    const std::size_t bytes = footprint(record);
    if (auto found = leases_.find(record.mesh_id); found != leases_.end()) {
      Lease& lease = found->second;
      if (now < lease.expires_at && lease.wireguard_pubkey != record.wireguard_pubkey &&
          !(record.proven && !lease.proven)) {
        return PutResult{.stored = false, .holder = to_record(*found), .full = false};
      }
      const std::size_t growth = bytes > lease.bytes ? bytes - lease.bytes : 0;
      if (!fits(growth, false)) {
        do_purge();  // may remove this very entry: look it up again
        found = leases_.find(record.mesh_id);
        if (found == leases_.end()) return insert(std::move(record), bytes);
        if (!fits(growth, false)) return PutResult{.stored = false, .holder = std::nullopt, .full = true};
      }
      Lease& kept = found->second;
      used_bytes_ = used_bytes_ - kept.bytes + bytes;
      kept.bytes = static_cast<std::uint32_t>(bytes);
      assign(kept, std::move(record));
      restore_heap(kept.heap_index);
      return PutResult{.stored = true, .holder = std::nullopt, .full = false};
    }
    return insert(std::move(record), bytes);
  }

  PutResult insert(ColonyRecord&& record, std::size_t bytes) {
    if (!fits(bytes, true)) {
      do_purge();
      if (!fits(bytes, true)) return PutResult{.stored = false, .holder = std::nullopt, .full = true};
    }
    std::string mesh_id = std::move(record.mesh_id);
    const auto inserted = leases_.try_emplace(std::move(mesh_id)).first;
    inserted->second.bytes = static_cast<std::uint32_t>(bytes);
    used_bytes_ += bytes;
    assign(inserted->second, std::move(record));
    inserted->second.heap_index = static_cast<std::uint32_t>(heap_.size());
    heap_.push_back(&*inserted);
    sift_up(heap_.size() - 1);
    return PutResult{.stored = true, .holder = std::nullopt, .full = false};
  }

  std::optional<ColonyRecord> do_get(const std::string& mesh_id) const {
    const auto found = leases_.find(mesh_id);
    if (found == leases_.end() || !live(found->second)) return std::nullopt;
    return to_record(*found);
  }

  std::size_t do_purge() {
    const base::Clock::time_point now = clock_.now();
    std::size_t purged = 0;
    while (!heap_.empty() && heap_.front()->second.expires_at <= now) {
      const Entry* expired = heap_.front();
      remove_from_heap(0);
      used_bytes_ -= expired->second.bytes;
      leases_.erase(expired->first);
      ++purged;
    }
    return purged;
  }

  // Gives back what a flood left: the hash table's buckets (which never
  // shrink on erase), the heap's capacity, and the allocator's free pages.
  void release_memory() {
    leases_.rehash(0);
    heap_.shrink_to_fit();
    base::release_free_memory();
  }

  // The expired entries form a subtree at the top of the heap (a child never
  // expires before its parent): count them without touching the rest.
  std::size_t count_expired() const {
    if (heap_.empty()) return 0;
    const base::Clock::time_point now = clock_.now();
    std::size_t expired = 0;
    std::vector<std::size_t> pending;
    if (heap_[0]->second.expires_at <= now) pending.push_back(0);
    while (!pending.empty()) {
      const std::size_t i = pending.back();
      pending.pop_back();
      ++expired;
      for (const std::size_t child : {2 * i + 1, 2 * i + 2}) {
        if (child < heap_.size() && heap_[child]->second.expires_at <= now) pending.push_back(child);
      }
    }
    return expired;
  }

  // --- the heap ---------------------------------------------------------

  bool earlier(std::size_t a, std::size_t b) const { return heap_[a]->second.expires_at < heap_[b]->second.expires_at; }

  void place(std::size_t i, Entry* entry) {
    heap_[i] = entry;
    entry->second.heap_index = static_cast<std::uint32_t>(i);
  }

  void swap_slots(std::size_t a, std::size_t b) {
    Entry* first = heap_[a];
    place(a, heap_[b]);
    place(b, first);
  }

  void sift_up(std::size_t i) {
    while (i > 0) {
      const std::size_t parent = (i - 1) / 2;
      if (!earlier(i, parent)) break;
      swap_slots(i, parent);
      i = parent;
    }
  }

  void sift_down(std::size_t i) {
    while (true) {
      std::size_t smallest = i;
      for (const std::size_t child : {2 * i + 1, 2 * i + 2}) {
        if (child < heap_.size() && earlier(child, smallest)) smallest = child;
      }
      if (smallest == i) break;
      swap_slots(i, smallest);
      i = smallest;
    }
  }

  // After the entry at i changed its expiry.
  void restore_heap(std::size_t i) {
    if (i > 0 && earlier(i, (i - 1) / 2)) {
      sift_up(i);
    } else {
      sift_down(i);
    }
  }

  void remove_from_heap(std::size_t i) {
    const std::size_t last = heap_.size() - 1;
    if (i != last) swap_slots(i, last);
    heap_.pop_back();
    if (i < heap_.size()) restore_heap(i);
  }

  const base::Clock& clock_;
  const StoreLimits limits_;
  std::size_t used_bytes_ = 0;  // sum of the leases' footprint()
  Map leases_;
  std::vector<Entry*> heap_;
};

}  // namespace

std::unique_ptr<Store> make_memory_store(const base::Clock& clock, StoreLimits limits) {
  return std::make_unique<MemoryStore>(clock, limits);
}

}  // namespace coral::discovery
