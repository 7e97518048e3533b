#include "base/memory.h"

#include <dlfcn.h>
#include <malloc.h>
#include <sys/resource.h>

namespace coral::base {

std::uint64_t raise_open_files_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  if (limit.rlim_cur < limit.rlim_max) {
    rlimit raised = limit;
    raised.rlim_cur = limit.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) return raised.rlim_cur;
  }
  return limit.rlim_cur;
}

std::uint64_t open_files_limit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
  return limit.rlim_cur;
}

void release_free_memory() {
  // With jemalloc (CORAL_JEMALLOC) glibc's malloc_trim has nothing to give
  // back: purge every jemalloc arena's unused pages instead (arena 4096 is
  // MALLCTL_ARENAS_ALL). Found at run time, so that the sanitizer and fuzz
  // builds, which run on their own allocators, need no jemalloc header.
  using Mallctl = int (*)(const char*, void*, std::size_t*, void*, std::size_t);
  static const auto mallctl = reinterpret_cast<Mallctl>(::dlsym(RTLD_DEFAULT, "mallctl"));
  if (mallctl != nullptr) {
    mallctl("thread.tcache.flush", nullptr, nullptr, nullptr, 0);
    mallctl("arena.4096.purge", nullptr, nullptr, nullptr, 0);
    return;
  }
  ::malloc_trim(0);
}

}  // namespace coral::base
