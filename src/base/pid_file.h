#pragma once
// PID files that cannot go stale unnoticed: the running process holds an
// exclusive flock on its file for as long as it lives, so "running" means
// "somebody holds the lock" — not "a process with that number exists",
// which a reused PID would fake. A file nobody holds is stale; readers
// report it as such and may remove it.

#include <sys/types.h>

#include <expected>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace coral::base {

class PidFile {
 public:
  // Creates (mode 0600) and locks `path`, and writes this process's PID in
  // it. When another live process holds it: "already running (pid N)".
  static std::expected<PidFile, std::string> acquire(std::filesystem::path path);

  PidFile(PidFile&& other) noexcept;
  PidFile& operator=(PidFile&&) = delete;
  // Removes the file, then releases the lock.
  ~PidFile();

  const std::filesystem::path& path() const { return path_; }

 private:
  PidFile(std::filesystem::path path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::filesystem::path path_;
  int fd_ = -1;
};

struct PidFileState {
  enum class Kind { absent, running, stale } kind = Kind::absent;
  pid_t pid = 0;  // running: the holder; stale: what the file says (0 if unreadable)
};

// What a PID file says, strictly: decimal digits (an optional trailing
// newline), a value > 1 that fits pid_t. Anything else (empty, "-1", "0",
// "1", "12abc", leading spaces or signs) is nullopt: never signal it.
std::optional<pid_t> parse_pid_text(std::string_view text);

// Whether the file is held by a live process, without taking it over.
PidFileState read_pid_file(const std::filesystem::path& path);

}  // namespace coral::base
