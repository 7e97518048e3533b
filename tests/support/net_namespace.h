#pragma once
// For tests that make interfaces or use non-loopback addresses: a fresh,
// empty network namespace per test, so that nothing touches the host's
// network, and forked children with capabilities dropped, to test what
// unprivileged users see.
//
// unshare(CLONE_NEWNET) moves the calling thread only: call it from the
// thread that then opens the sockets and devices (GoogleTest runs tests on
// the main thread). The namespace, and every interface in it, goes away
// when the last thread in it exits. Later tests of the same process stay in
// the namespace the previous one made, which is harmless: each test that
// needs one makes its own.

#include <linux/capability.h>
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <optional>
#include <string>

namespace coral::testing {

// Whether the calling thread has `capability` (CAP_NET_ADMIN, ...) in its
// effective set.
inline bool has_capability(int capability) {
  __user_cap_header_struct header{.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  __user_cap_data_struct data[2]{};
  if (syscall(SYS_capget, &header, data) != 0) return false;
  return (data[capability / 32].effective & (1U << (capability % 32))) != 0;
}

// What enter_fresh_network_namespace() and TUN devices need.
inline bool can_make_network_namespaces() { return has_capability(CAP_SYS_ADMIN) && has_capability(CAP_NET_ADMIN); }

inline constexpr const char* kNeedsNetworkPrivileges =
    "needs CAP_SYS_ADMIN and CAP_NET_ADMIN (run as root) to make a network namespace";

// Moves the calling thread into a new network namespace and brings its
// loopback up (127.0.0.1 and ::1 work; nothing else exists). An error text,
// or nullopt on success.
inline std::optional<std::string> enter_fresh_network_namespace() {
  if (unshare(CLONE_NEWNET) != 0) return std::string("unshare(CLONE_NEWNET): ") + std::strerror(errno);
  const int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::string("socket: ") + std::strerror(errno);
  ifreq request{};
  std::strcpy(request.ifr_name, "lo");
  bool up = ioctl(fd, SIOCGIFFLAGS, &request) == 0;
  request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP);
  up = up && ioctl(fd, SIOCSIFFLAGS, &request) == 0;
  const int error = errno;
  close(fd);
  if (!up) return std::string("bringing lo up: ") + std::strerror(error);
  return std::nullopt;
}

// Removes `capability` from the calling thread's effective, permitted and
// inheritable sets, for good. Whether that worked.
inline bool drop_capability(int capability) {
  __user_cap_header_struct header{.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
  __user_cap_data_struct data[2]{};
  if (syscall(SYS_capget, &header, data) != 0) return false;
  const unsigned bit = 1U << (capability % 32);
  data[capability / 32].effective &= ~bit;
  data[capability / 32].permitted &= ~bit;
  data[capability / 32].inheritable &= ~bit;
  if (syscall(SYS_capset, &header, data) != 0) return false;
  return !has_capability(capability);
}

// Runs `body` in a forked child (so that whatever it does to its
// capabilities or namespaces stays there) and returns the text it returned;
// nullopt if the child died. Call it from a single-threaded test.
inline std::optional<std::string> run_in_child(const std::function<std::string()>& body) {
  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) return std::nullopt;
  const pid_t child = fork();
  if (child < 0) return std::nullopt;
  if (child == 0) {
    close(pipe_fds[0]);
    const std::string text = body();
    std::size_t written = 0;
    while (written < text.size()) {
      const ssize_t n = write(pipe_fds[1], text.data() + written, text.size() - written);
      if (n <= 0) break;
      written += static_cast<std::size_t>(n);
    }
    _exit(written == text.size() ? 0 : 1);
  }
  close(pipe_fds[1]);
  std::string text;
  char buffer[512];
  ssize_t n = 0;
  while ((n = read(pipe_fds[0], buffer, sizeof buffer)) > 0) text.append(buffer, static_cast<std::size_t>(n));
  close(pipe_fds[0]);
  int status = 0;
  if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) return std::nullopt;
  return text;
}

}  // namespace coral::testing
