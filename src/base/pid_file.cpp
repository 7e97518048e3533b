#include "base/pid_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <limits>
#include <thread>

namespace coral::base {

namespace {

pid_t read_pid(int fd) {
  char text[32] = {};
  const ssize_t n = pread(fd, text, sizeof text - 1, 0);
  if (n <= 0) return 0;
  return static_cast<pid_t>(std::strtol(text, nullptr, 10));
}

// True when `fd` is still the file at `path`: a holder that exits unlinks
// its file, and whoever locked the unlinked inode must start again.
bool still_linked(int fd, const std::filesystem::path& path) {
  struct stat opened {};
  struct stat named {};
  return fstat(fd, &opened) == 0 && stat(path.c_str(), &named) == 0 && opened.st_ino == named.st_ino &&
         opened.st_dev == named.st_dev;
}

}  // namespace

std::optional<pid_t> parse_pid_text(std::string_view text) {
  if (text.ends_with('\n')) text.remove_suffix(1);
  if (text.empty() || text.size() > 10) return std::nullopt;
  long long value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + (c - '0');
  }
  if (value <= 1 || value > std::numeric_limits<pid_t>::max()) return std::nullopt;
  return static_cast<pid_t>(value);
}

std::expected<PidFile, std::string> PidFile::acquire(std::filesystem::path path) {
  for (int attempt = 0; attempt < 10; ++attempt) {
    const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return std::unexpected(path.string() + ": " + std::strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
      const int error = errno;
      // The holder writes its PID right after locking: give it a moment.
      pid_t holder = read_pid(fd);
      for (int wait = 0; holder == 0 && wait < 20; ++wait) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        holder = read_pid(fd);
      }
      close(fd);
      if (error == EWOULDBLOCK) return std::unexpected("already running (pid " + std::to_string(holder) + ")");
      return std::unexpected(path.string() + ": " + std::strerror(error));
    }
    if (!still_linked(fd, path)) {
      close(fd);
      continue;
    }
    const std::string pid = std::to_string(getpid()) + "\n";
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
      const std::string error = std::strerror(errno);
      unlink(path.c_str());
      close(fd);
      return std::unexpected(path.string() + ": " + error);
    }
    return PidFile(std::move(path), fd);
  }
  return std::unexpected(path.string() + ": replaced again and again while locking it");
}

PidFile::PidFile(PidFile&& other) noexcept : path_(std::move(other.path_)), fd_(std::exchange(other.fd_, -1)) {}

PidFile::~PidFile() {
  if (fd_ < 0) return;
  unlink(path_.c_str());
  close(fd_);
}

PidFileState read_pid_file(const std::filesystem::path& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  PidFileState state;
  if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
    state.kind = PidFileState::Kind::stale;
    state.pid = read_pid(fd);
  } else {
    state.kind = PidFileState::Kind::running;
    state.pid = read_pid(fd);
    for (int wait = 0; state.pid == 0 && wait < 20; ++wait) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      state.pid = read_pid(fd);
    }
  }
  close(fd);
  return state;
}

}  // namespace coral::base
