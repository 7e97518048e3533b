#pragma once
// The embedded store: leases in this process's memory, lost on restart.

#include <memory>

#include "discovery/store.h"

namespace coral::discovery {

// Not thread-safe: use it from the thread of the io_context serving RPCs.
// After a purge that removed records, unused hash buckets and heap slots
// are released and glibc is asked to return free memory to the system
// (base::release_free_memory), so that memory goes back after a flood's leases expire.
std::unique_ptr<Store> make_memory_store(const base::Clock& clock, StoreLimits limits = {});

}  // namespace coral::discovery
