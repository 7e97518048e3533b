#pragma once
// Process resources a long-running server tunes once, and gives back.

#include <cstdint>

namespace coral::base {

// Raises this process's soft limit on open files (RLIMIT_NOFILE) to its hard
// limit and returns the new soft limit (the old one when it cannot change).
std::uint64_t raise_open_files_limit();
// The current soft limit on open files.
std::uint64_t open_files_limit();

// Hands free heap memory back to the system (an allocator keeps freed
// blocks in its arenas; after thousands of connections close, that is tens
// of MB): jemalloc's arenas purged when the binary runs on jemalloc, else
// glibc's malloc_trim.
void release_free_memory();

}  // namespace coral::base
