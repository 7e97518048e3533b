#include "base/pid_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <limits>
#include <thread>

namespace coral::base {

namespace {

// What the file says: at most 32 bytes, from the start.
std::string read_text(int fd) {
  char text[32];
  const ssize_t n = pread(fd, text, sizeof text, 0);
  return n > 0 ? std::string(text, static_cast<std::size_t>(n)) : std::string();
}

pid_t read_pid(int fd) { return parse_pid_text(read_text(fd)).value_or(0); }

std::string read_small_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
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
      if (error == EWOULDBLOCK) {
        return std::unexpected(holder > 0 ? "already running (pid " + std::to_string(holder) + ")"
                                          : std::string("already running (its PID file does not say which process)"));
      }
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

bool holds_lock_on(pid_t pid, int fd) {
  struct stat file {};
  if (pid <= 1 || fstat(fd, &file) != 0) return false;
  const std::filesystem::path fds = "/proc/" + std::to_string(pid) + "/fd";
  std::error_code ec;
  std::filesystem::directory_iterator it(fds, ec);
  if (ec) return false;
  // Bounded by the process's open files; a daemon has a few dozen.
  for (const auto& entry : it) {
    struct stat open_file {};
    if (::stat(entry.path().c_str(), &open_file) != 0) continue;  // follows the /proc link to the file itself
    if (open_file.st_dev != file.st_dev || open_file.st_ino != file.st_ino) continue;
    // fdinfo lists the locks held through this open file: "lock:\t1: FLOCK  ADVISORY  WRITE <pid> ...".
    const std::string info = read_small_file("/proc/" + std::to_string(pid) + "/fdinfo/" + entry.path().filename().string());
    std::istringstream lines(info);
    for (std::string line; std::getline(lines, line);) {
      if (line.starts_with("lock:") && line.find(" FLOCK ") != std::string::npos &&
          line.find(" WRITE ") != std::string::npos) {
        return true;
      }
    }
  }
  return false;
}

pid_t find_lock_holder(int fd) {
  struct stat file {};
  if (fstat(fd, &file) != 0) return 0;
  char id[64];
  std::snprintf(id, sizeof id, "%02x:%02x:%llu", major(file.st_dev), minor(file.st_dev),
                static_cast<unsigned long long>(file.st_ino));
  std::istringstream lines(read_small_file("/proc/locks"));
  // "1: FLOCK  ADVISORY  WRITE 6238 fe:00:10953160 0 EOF"; waiters have "->" after the number.
  for (std::string line; std::getline(lines, line);) {
    std::istringstream fields(line);
    std::string number, type, advisory, mode, pid, where;
    fields >> number >> type >> advisory >> mode >> pid >> where;
    if (type != "FLOCK" || mode != "WRITE" || where != id) continue;
    return parse_pid_text(pid).value_or(0);
  }
  return 0;
}

PidFileState read_pid_file(const std::filesystem::path& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  PidFileState state;
  if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
    state.kind = PidFileState::Kind::stale;
    state.pid = read_pid(fd);
  } else {
    // The holder writes its PID right after locking: give it a moment.
    std::string text = read_text(fd);
    for (int wait = 0; text.empty() && wait < 20; ++wait) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      text = read_text(fd);
    }
    const auto pid = parse_pid_text(text);
    if (pid && holds_lock_on(*pid, fd)) {
      state.kind = PidFileState::Kind::running;
      state.pid = *pid;
    } else {
      state.kind = PidFileState::Kind::corrupt;
      state.text = std::move(text);
      state.holder = find_lock_holder(fd);
    }
  }
  close(fd);
  return state;
}

}  // namespace coral::base
