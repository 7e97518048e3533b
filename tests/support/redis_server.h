#pragma once
// A throwaway redis-server for tests: started on a free loopback port, with
// no persistence, and stopped by its PID (SIGTERM, then SIGKILL if it has
// not exited within 5 s). stop() and start() again simulate an outage on the
// same port; pause() and resume() a Redis that hangs. Every wait is bounded. Header-only; needs no Redis client
// library (it speaks the inline protocol over a socket).

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace coral::test {

class RedisServer {
 public:
  // The redis-server executable on PATH, or "" when there is none.
  static std::string executable() {
    const char* path = std::getenv("PATH");
    std::string_view dirs = path ? path : "/usr/local/bin:/usr/bin:/bin";
    while (!dirs.empty()) {
      const auto colon = dirs.find(':');
      std::string dir(dirs.substr(0, colon));
      dirs = colon == std::string_view::npos ? std::string_view() : dirs.substr(colon + 1);
      if (dir.empty()) continue;
      std::string candidate = dir + "/redis-server";
      if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    }
    return "";
  }

  // Starts a server on a free port; check running() and error().
  RedisServer() {
    executable_ = executable();
    if (executable_.empty()) {
      error_ = "redis-server not installed";
      return;
    }
    // Another process may take the free port between our probe and Redis's
    // bind: try a few.
    for (int attempt = 0; attempt < 5 && !running(); ++attempt) {
      port_ = free_port();
      if (port_ == 0) continue;
      start();
    }
  }

  ~RedisServer() { stop(); }

  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  std::uint16_t port() const { return port_; }
  bool running() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  const std::string& error() const { return error_; }

  // (Re)starts on port(); true once it answers PING (within 5 s).
  bool start() {
    if (running()) return true;
    if (executable_.empty() || port_ == 0) return false;
    const std::string port = std::to_string(port_);
    std::vector<std::string> args{executable_, "--port",        port,        "--bind",     "127.0.0.1",
                                  "--save",    "",              "--appendonly", "no",     "--daemonize",
                                  "no",        "--loglevel",    "warning",   "--logfile",  "",
                                  "--dir",     "/tmp"};
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) {
      error_ = "fork failed";
      return false;
    }
    if (pid == 0) {
      // The server must not outlive a test that crashes.
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(127);
      const int null = ::open("/dev/null", O_RDWR);
      if (null >= 0) {
        ::dup2(null, 0);
        ::dup2(null, 1);
        ::dup2(null, 2);
      }
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    pid_ = pid;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (::waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        error_ = "redis-server exited at start (port " + port + " taken?)";
        return false;
      }
      if (query("PING") == "+PONG") return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    error_ = "redis-server did not answer PING within 5 s";
    stop();
    return false;
  }

  // Freezes the server (SIGSTOP): it still accepts connections (the kernel
  // does) but answers nothing, like a hung Redis. resume() thaws it.
  void pause() {
    if (pid_ > 0) ::kill(pid_, SIGSTOP);
  }
  void resume() {
    if (pid_ > 0) ::kill(pid_, SIGCONT);
  }

  // Stops the server (SIGTERM, SIGKILL after 5 s) and reaps it.
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    ::kill(pid_, SIGCONT);  // a paused server must wake to see SIGTERM
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() >= deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    pid_ = -1;
  }

  // Sends one inline command ("EXISTS key") and returns the first line of
  // the reply without its CRLF ("+PONG", ":1", "$-1"), or "" on any failure.
  // Bounded by 1 s timeouts.
  std::string query(std::string_view command) const {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return "";
    timeval tv{1, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port_);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    std::string line;
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
      std::string request = std::string(command) + "\r\n";
      if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == ssize_t(request.size())) {
        char c = 0;
        while (line.size() < 4096 && ::recv(fd, &c, 1, 0) == 1 && c != '\n') line += c;
        if (!line.empty() && line.back() == '\r') {
          line.pop_back();
        } else {
          line.clear();
        }
      }
    }
    ::close(fd);
    return line;
  }

 private:
  static std::uint16_t free_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = 0;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    std::uint16_t port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
      port = ntohs(addr.sin_port);
    }
    ::close(fd);
    return port;
  }

  std::string executable_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
  std::string error_;
};

}  // namespace coral::test
