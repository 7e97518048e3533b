#pragma once
// What the main of every binary (coral, coral-proxy, coral-discovery)
// shares, so that they behave alike (docs/cli.md, "Exit status"):
//
//   exit 0   success (and --help, --version)
//   exit 1   the command failed; "error: <what>" on stderr
//   exit 2   bad usage (unknown flag or command, missing or bad argument);
//            "error: <what>" on stderr, with "did you mean" for a mistyped
//            command
//
// Results go to stdout; errors and warnings to stderr.

#include <optional>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

namespace coral::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

// "coral 0.1.0 (0722be4)": the binary, the project version and, when the
// build was made from a git checkout, `git describe`.
std::string version_text(std::string_view binary);

// Adds --version and makes CLI11's errors read "error: <what>".
void setup_app(CLI::App& app, std::string_view binary);

// Parses. Returns nullopt when the command line is good; else prints what
// CLI11 reports (help, version, or the error) and returns the exit code
// (0 for --help and --version, 2 for bad usage).
std::optional<int> parse_args(CLI::App& app, int argc, char** argv);

// parse_args for apps whose commands run from CLI11 callbacks (coral):
// a command that throws is "error: <what>", exit 1; else `exit_code`,
// read after the command ran.
int run_app(CLI::App& app, int argc, char** argv, const int& exit_code);

}  // namespace coral::cli
