#pragma once
// What every `coral` command shares: global flags, the config directory,
// the exit code, and how errors and results are printed.
//
// Errors go to stderr as "error: <what failed>" plus, where there is one,
// a line saying what to do; results go to stdout (JSON with --json).

#include <exception>
#include <expected>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include "config/colony_file.h"
#include "config/config_dir.h"

namespace coral::cli {

struct Context {
  std::string config_dir_flag;  // --config-dir; empty: CORAL_CONFIG_DIR, then ~/.coral
  int exit_code = 0;

  std::expected<config::ConfigDir, std::string> config_dir() const;
  // Prints "error: <message>" (and "  <hint>") to stderr; exit code 1 unless given.
  void fail(std::string_view message, std::string_view hint = {}, int code = 1);
  // fail() for bad usage (a flag value the command rejects): exit 2.
  void usage(std::string_view message, std::string_view hint = {});
};

// The colony a command acts on: the one named, else the current one. The
// one way every command picks it (resolve_colony).
struct ColonyTarget {
  config::ConfigDir dir;
  std::string id;
  std::optional<config::ColonyConfig> config;  // always set with ConfigUse::required
  // How to join it from here (ConfigDir::load_membership): always set with
  // ConfigUse::member; with ConfigUse::optional when a file is there.
  std::optional<config::MemberConfig> member;
};

enum class ConfigUse {
  required,  // a colony of this config directory: no file is "no colony 'x'" (did you mean ...);
             // a member entry only is "x is a member entry ...: run the colony on its own machine"
  member,    // a colony file or a member entry (coral colony import) here: enough to join it
  optional,  // also one known only elsewhere (through a proxy): no file is no config
  unloaded,  // its file is not read; it must have a file or a PID file here (stop works on a broken file)
};

// "<id> is a member entry (imported from a member file): run the colony on
// its own machine", and how to reach it from here, as Context::fail prints it.
void fail_member_entry(Context& context, const std::string& id);

// Fails (printing why and what to do, exit 1) when no colony is named and
// there is no current one, when the id is invalid, when its file does not
// load, or (ConfigUse::required) when there is no such colony; warns on
// stderr when the file is readable by others. `name_it` is how the command
// names a colony, for the hint when there is no current one
// ("--colony <colony-id>").
std::optional<ColonyTarget> resolve_colony(Context& context, const std::string& colony_id, ConfigUse use,
                                           std::string_view name_it = "<colony-id>");

// "no colony 'nope' in /home/me/.coral/colonies — did you mean 'nop'?" and
// what is there, as Context::fail prints it.
void fail_unknown_colony(Context& context, const config::ConfigDir& dir, const std::string& id);

// Runs `io` until `task` completes and returns its result. Work the task
// left behind (a server it started) stays queued for the next io.run().
template <class T>
T run_to_completion(boost::asio::io_context& io, boost::asio::awaitable<T> task) {
  std::optional<T> result;
  std::exception_ptr failure;
  boost::asio::co_spawn(io, std::move(task), [&](std::exception_ptr error, T value) {
    failure = error;
    if (!error) result.emplace(std::move(value));
    io.stop();
  });
  io.run();
  io.restart();
  if (failure) std::rethrow_exception(failure);
  return std::move(*result);
}

// A command's callback: runs `command(context, flags)` to its end on an
// io_context of its own.
template <class Flags>
void run_command(Context& context, const Flags& flags,
                 boost::asio::awaitable<void> (*command)(Context&, const Flags&)) {
  boost::asio::io_context io(1);
  run_to_completion(io, [&]() -> boost::asio::awaitable<bool> {
    co_await command(context, flags);
    co_return true;
  }());
}

// "4d 2h 15m", "2h 15m", "5m 3s", "12s": the two or three largest units.
std::string format_uptime(long long seconds);

// "1 agent", "3 agents", "0 agents".
std::string count(long long n, std::string_view one, std::string_view many);

// "1.2 MiB", "532 KiB", "816 B".
std::string format_bytes(unsigned long long bytes);

}  // namespace coral::cli
