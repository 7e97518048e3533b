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
  enum class Kind {
    absent,   // no file
    running,  // held, and `pid` is verifiably the holder: it says so, and it holds the lock
    stale,    // nobody holds it (the holder died); `pid` is what it says, 0 if that is not a PID
    corrupt,  // held, but what it says is not a PID, or not the holder's: never signal `pid`
  } kind = Kind::absent;
  pid_t pid = 0;       // running: the holder; stale: what the file says; corrupt: 0
  std::string text;    // corrupt: what the file says (at most 32 bytes), for the error message
  pid_t holder = 0;    // corrupt: the process the kernel says holds the lock, 0 if unknown

  // Somebody holds the lock: the daemon is alive (running or corrupt).
  bool held() const { return kind == Kind::running || kind == Kind::corrupt; }
  // Who holds it, for messages: "pid N", or "its PID file is corrupt".
  std::string holder_text() const {
    return kind == Kind::running ? "pid " + std::to_string(pid) : std::string("its PID file is corrupt");
  }
};

// What a PID file says, strictly: decimal digits (an optional trailing
// newline), a value > 1 that fits pid_t. Anything else (empty, "-1", "0",
// "1", "12abc", leading spaces or signs) is nullopt: never signal it.
std::optional<pid_t> parse_pid_text(std::string_view text);

// Whether the file is held by a live process, without taking it over. A
// held file is `running` only when its content parses (parse_pid_text) and
// that process holds the lock on this very file (/proc/PID/fd and fdinfo);
// anything else that is held is `corrupt`.
PidFileState read_pid_file(const std::filesystem::path& path);

// Whether process `pid` holds an flock on the file open as `fd` here (same
// device and inode). False when it cannot be told (no such process, or its
// /proc entries are not readable by this user).
bool holds_lock_on(pid_t pid, int fd);

// The process holding an flock on the file open as `fd`, from /proc/locks;
// 0 if none is found. For messages only: it names the lock holder when the
// PID file itself cannot be trusted.
pid_t find_lock_holder(int fd);

}  // namespace coral::base
