// base::parse_pid_text over arbitrary bytes: the text of a PID file, which
// `coral colony stop` and `coral proxy stop` turn into a signal.
//
// Oracles: an accepted value is > 1 (never a process group, never init),
// fits pid_t, and round-trips (its decimal text, with or without a newline,
// parses to the same value); and the parser accepts exactly what a naive
// reference accepts: one or more ASCII digits, at most one trailing
// newline, a value in 2..INT_MAX (texts with leading zeros, which coral
// never writes, may go either way).

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "base/pid_file.h"

namespace {

void require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "pid_file_fuzz: oracle failed: %s\n", what);
  __builtin_trap();
}

std::optional<pid_t> reference(std::string_view text) {
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  if (text.empty()) return std::nullopt;
  unsigned long long value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<unsigned>(c - '0');
    if (value > static_cast<unsigned long long>(std::numeric_limits<pid_t>::max())) return std::nullopt;
  }
  if (value < 2) return std::nullopt;
  return static_cast<pid_t>(value);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const std::optional<pid_t> pid = coral::base::parse_pid_text(text);
  std::string_view digits = text;
  if (digits.ends_with('\n')) digits.remove_suffix(1);
  if (!(digits.size() > 1 && digits.front() == '0')) {
    require(pid == reference(text), "parse_pid_text disagrees with the reference");
  }
  if (!pid) return 0;
  require(*pid > 1, "accepted a PID <= 1");
  const std::string decimal = std::to_string(*pid);
  require(coral::base::parse_pid_text(decimal) == pid, "the decimal text of an accepted PID does not parse back");
  require(coral::base::parse_pid_text(decimal + "\n") == pid, "the PID file text of an accepted PID does not parse back");
  return 0;
}
