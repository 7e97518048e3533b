#include "cli/daemon.h"

#include <fcntl.h>
#include <signal.h>
#include <poll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <thread>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/signal_set.hpp>

#include "base/duration.h"
#include "base/log.h"
#include "base/pid_file.h"

namespace coral::cli {

DaemonReady::DaemonReady(DaemonReady&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}

DaemonReady& DaemonReady::operator=(DaemonReady&& other) noexcept {
  if (this != &other) {
    if (fd_ >= 0) close(fd_);
    fd_ = std::exchange(other.fd_, -1);
  }
  return *this;
}

DaemonReady::~DaemonReady() {
  if (fd_ >= 0) close(fd_);
}

void DaemonReady::succeeded(const std::string& message, const std::string& warnings) {
  send('+', warnings.empty() ? message : message + '\0' + warnings);
}
void DaemonReady::failed(const std::string& message) { send('-', message); }

void DaemonReady::send(char verdict, const std::string& message) {
  if (fd_ < 0) return;
  const std::string text = verdict + message;
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = write(fd_, text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    written += static_cast<std::size_t>(n);
  }
  close(fd_);
  fd_ = -1;
}

namespace {

[[noreturn]] void wait_for_child(int fd, pid_t child, const std::filesystem::path& log_file,
                                 std::chrono::seconds timeout) {
  std::string received;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  bool timed_out = false;
  while (true) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd watch{fd, POLLIN, 0};
    const int ready = poll(&watch, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) continue;
    char buffer[4096];
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    received.append(buffer, static_cast<std::size_t>(n));
  }
  if (!received.empty() && received.front() == '+') {
    const auto split = received.find('\0');
    std::cout << received.substr(1, split == std::string::npos ? std::string::npos : split - 1) << std::flush;
    if (split != std::string::npos) std::cerr << received.substr(split + 1) << std::flush;
    std::exit(0);
  }
  if (!received.empty() && received.front() == '-') {
    std::cerr << received.substr(1) << std::flush;
  } else if (timed_out) {
    std::cerr << "the daemon (pid " << child << ") did not report within " << timeout.count()
              << " s; see " << log_file.string() << "\n";
  } else {
    int status = 0;
    waitpid(child, &status, WNOHANG);
    std::cerr << "the daemon (pid " << child << ") exited during start-up; see " << log_file.string() << "\n";
  }
  std::exit(1);
}

}  // namespace

std::expected<DaemonReady, std::string> daemonize(const std::filesystem::path& log_file, std::chrono::seconds timeout) {
  const int log_fd = open(log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) return std::unexpected(log_file.string() + ": " + std::strerror(errno));
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    close(log_fd);
    return std::unexpected(std::string("pipe: ") + std::strerror(errno));
  }
  std::cout.flush();
  std::cerr.flush();
  const pid_t child = fork();
  if (child < 0) {
    close(log_fd);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    return std::unexpected(std::string("fork: ") + std::strerror(errno));
  }
  if (child > 0) {
    close(log_fd);
    close(pipe_fds[1]);
    wait_for_child(pipe_fds[0], child, log_file, timeout);
  }
  close(pipe_fds[0]);
  setsid();
  const int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (null_fd >= 0) {
    dup2(null_fd, STDIN_FILENO);
    close(null_fd);
  }
  dup2(log_fd, STDOUT_FILENO);
  dup2(log_fd, STDERR_FILENO);
  close(log_fd);
  return DaemonReady(pipe_fds[1]);
}

namespace {

// The process's executable is one of coral's (coral, coral-proxy, ...).
// "/proc/PID/exe" of a binary replaced since it started ends in " (deleted)".
bool is_coral_process(pid_t pid) {
  std::error_code ec;
  const auto exe = std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec);
  return !ec && exe.filename().string().starts_with("coral");
}

std::string describe_corrupt(const std::filesystem::path& pid_file, const base::PidFileState& state) {
  std::string said;
  for (const char c : state.text) {
    if (c == '\n') said += "\\n";
    else if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) said += '?';
    else said += c;
  }
  std::string text = "PID file " + pid_file.string() + " is corrupt (it says \"" + said + "\"";
  if (state.holder > 0) text += "; its lock is held by pid " + std::to_string(state.holder);
  return text + "); not signalling anything";
}

// A pidfd pins the process: if it exits after the checks, the signal fails
// (ESRCH) instead of reaching whoever reused its number.
int open_pidfd(pid_t pid) { return static_cast<int>(syscall(SYS_pidfd_open, pid, 0)); }

}  // namespace

StopOutcome stop_by_pid_file(const std::filesystem::path& pid_file, std::chrono::milliseconds timeout) {
  const auto state = base::read_pid_file(pid_file);
  using Kind = base::PidFileState::Kind;
  switch (state.kind) {
    case Kind::absent:
      return {StopOutcome::Kind::not_running, 0, {}};
    case Kind::stale: {
      std::error_code ec;
      std::filesystem::remove(pid_file, ec);
      return {StopOutcome::Kind::stale_removed, state.pid, {}};
    }
    case Kind::corrupt:
      return {StopOutcome::Kind::corrupt, 0, describe_corrupt(pid_file, state)};
    case Kind::running:
      break;
  }
  // read_pid_file checked that state.pid holds the lock (so it is > 1 and
  // alive); pin it, then check again through the pin, and that it is coral.
  const int pidfd = open_pidfd(state.pid);
  if (pidfd < 0 && errno != ENOSYS) return {StopOutcome::Kind::signal_failed, state.pid, std::strerror(errno)};
  const auto again = base::read_pid_file(pid_file);
  if (again.kind != Kind::running || again.pid != state.pid || !is_coral_process(state.pid)) {
    if (pidfd >= 0) close(pidfd);
    base::PidFileState shown = again;
    if (again.kind == Kind::running) {  // held by that process, which is not a coral binary
      shown.text = std::to_string(again.pid);
      shown.holder = again.pid;
    }
    return {StopOutcome::Kind::corrupt, 0, describe_corrupt(pid_file, shown)};
  }
  const int sent = pidfd >= 0 ? static_cast<int>(syscall(SYS_pidfd_send_signal, pidfd, SIGTERM, nullptr, 0))
                              : kill(state.pid, SIGTERM);
  const int error = errno;
  if (pidfd >= 0) close(pidfd);
  if (sent != 0) return {StopOutcome::Kind::signal_failed, state.pid, std::strerror(error)};
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!base::read_pid_file(pid_file).held()) return {StopOutcome::Kind::stopped, state.pid, {}};
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return {StopOutcome::Kind::timed_out, state.pid, {}};
}

void report_started(DaemonReady& ready, const std::string& message, const std::vector<std::string>& warnings) {
  std::string warning_text;
  for (const auto& warning : warnings) warning_text += "warning: " + warning + "\n";
  if (ready.is_daemon()) {
    ready.succeeded(message, warning_text);
  } else {
    std::cout << message << std::flush;
    std::cerr << warning_text << std::flush;
  }
}

void serve_until_signalled(boost::asio::io_context& io, std::function<boost::asio::awaitable<void>()> shutdown,
                           const std::string& grace) {
  boost::asio::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](boost::system::error_code ec, int signal) {
    if (ec) return;
    log::info("shutting down", {{"signal", signal == SIGTERM ? "SIGTERM" : "SIGINT"}, {"grace", grace}});
    boost::asio::co_spawn(io, shutdown(), [&](std::exception_ptr) { io.stop(); });
  });
  io.run();
}

bool fail_stop(Context& context, const StopOutcome& outcome, const std::string& what, const std::string& timeout,
               const std::string& timeout_hint) {
  switch (outcome.kind) {
    case StopOutcome::Kind::signal_failed:
      context.fail("cannot signal pid " + std::to_string(outcome.pid) + ": " + outcome.error);
      return true;
    case StopOutcome::Kind::corrupt:
      context.fail(outcome.error, "stop the process that holds it by hand, then remove the file");
      return true;
    case StopOutcome::Kind::timed_out:
      context.fail(what + " (pid " + std::to_string(outcome.pid) + ") did not stop within " + timeout, timeout_hint);
      return true;
    case StopOutcome::Kind::not_running:
    case StopOutcome::Kind::stale_removed:
    case StopOutcome::Kind::stopped:
      break;
  }
  return false;
}

}  // namespace coral::cli
