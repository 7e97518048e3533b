#pragma once
// `--daemon`: the command forks; the parent waits until the child says it
// is serving (or why it could not), prints that and exits with the child's
// verdict, so that `coral colony start --daemon && coral status` works and
// a start-up error reaches the user's terminal, not only the log file.
//
// The child starts a new session, reads /dev/null and writes its stdout and
// stderr to the log file (appended, created 0600).

#include <chrono>
#include <expected>
#include <filesystem>
#include <string>

namespace coral::cli {

// In the child: tells the waiting parent how start-up went. The first call
// counts; later ones do nothing. A child that exits without reporting is
// reported by the parent as "exited during start-up; see <log>".
class DaemonReady {
 public:
  DaemonReady() = default;
  explicit DaemonReady(int fd) : fd_(fd) {}
  DaemonReady(DaemonReady&& other) noexcept;
  DaemonReady& operator=(DaemonReady&& other) noexcept;
  ~DaemonReady();

  // `message` is printed by the parent as it is (one or more lines).
  void succeeded(const std::string& message);
  void failed(const std::string& message);
  bool is_daemon() const { return fd_ >= 0; }

 private:
  void send(char verdict, const std::string& message);
  int fd_ = -1;
};

// Forks. Returns in the child only, with its DaemonReady. In the parent,
// waits up to `timeout` for the verdict, prints it (success on stdout,
// failure on stderr) and exits: 0 on success, 1 otherwise. Errors before
// the fork (the log file cannot be opened) are returned.
std::expected<DaemonReady, std::string> daemonize(const std::filesystem::path& log_file,
                                                  std::chrono::seconds timeout = std::chrono::seconds(30));

// Stopping what holds a PID file (base/pid_file.h): SIGTERM, then wait
// until the file is released or `timeout` passes. The signal only ever
// goes to the daemon itself: a PID > 1 that the file names and that holds
// the file's lock and runs a coral binary, pinned with a pidfd so that a
// reused PID cannot receive it. A held file that does not name its holder
// is `corrupt`, and nothing is signalled.
struct StopOutcome {
  enum class Kind {
    not_running,    // no PID file
    stale_removed,  // nobody held it; removed
    stopped,        // signalled, and the lock was released within the timeout
    timed_out,      // signalled, still holding the lock
    signal_failed,  // the signal could not be sent (error)
    corrupt,        // held, but not verifiably by a coral daemon of this file; error says what it said
  } kind;
  int pid = 0;
  std::string error;  // signal_failed, corrupt: the message
};
StopOutcome stop_by_pid_file(const std::filesystem::path& pid_file, std::chrono::milliseconds timeout);

}  // namespace coral::cli
