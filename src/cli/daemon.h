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
#include <functional>
#include <string>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>

#include "cli/context.h"

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

  // `message` is printed by the parent as it is (one or more lines) on
  // stdout, `warnings` ("warning: ..." lines) on stderr.
  void succeeded(const std::string& message, const std::string& warnings = {});
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

// What `colony start` and `proxy start` do once serving, daemon or not.
// Reports start-up: through `ready` to the waiting parent when this is the
// daemon, else `message` on stdout; each warning as "warning: ..." on
// stderr either way.
void report_started(DaemonReady& ready, const std::string& message, const std::vector<std::string>& warnings);
// Runs `io` until SIGTERM or SIGINT, then runs `shutdown` (logging "shutting
// down" with the signal) and returns when it is done.
void serve_until_signalled(boost::asio::io_context& io, std::function<boost::asio::awaitable<void>()> shutdown,
                           const std::string& grace);

// The outcomes of stop_by_pid_file that are errors, as `colony stop` and
// `proxy stop` report them (exit 1); `what` is "colony x" or "the proxy".
// Returns false for the others, which each command words itself.
bool fail_stop(Context& context, const StopOutcome& outcome, const std::string& what, const std::string& timeout,
               const std::string& timeout_hint);

}  // namespace coral::cli
