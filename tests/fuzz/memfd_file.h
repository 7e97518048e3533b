#pragma once
// A file in memory for fuzzers of loaders that take a path: each input is
// written to one memfd, read through /proc/self/fd/N, so the parser runs
// exactly as on a real file without touching the disk.

#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <string>
#include <string_view>

namespace coral::fuzz {

class MemoryFile {
 public:
  MemoryFile() : fd_(memfd_create("coral-fuzz", MFD_CLOEXEC)) {
    if (fd_ < 0) std::abort();
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  MemoryFile(const MemoryFile&) = delete;
  MemoryFile& operator=(const MemoryFile&) = delete;
  ~MemoryFile() { close(fd_); }

  // Replaces the file's content; returns its path.
  const std::string& hold(std::string_view content) {
    if (ftruncate(fd_, 0) != 0) std::abort();
    std::size_t done = 0;
    while (done < content.size()) {
      const ssize_t n = pwrite(fd_, content.data() + done, content.size() - done, static_cast<off_t>(done));
      if (n <= 0) std::abort();
      done += static_cast<std::size_t>(n);
    }
    return path_;
  }

 private:
  int fd_;
  std::string path_;
};

}  // namespace coral::fuzz
