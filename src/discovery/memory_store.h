#pragma once
// The embedded store: leases in this process's memory, lost on restart.

#include <memory>

#include "discovery/store.h"

namespace coral::discovery {

// Not thread-safe: use it from the thread of the io_context serving RPCs.
std::unique_ptr<Store> make_memory_store(const base::Clock& clock);

}  // namespace coral::discovery
