#include "cli/terminal.h"

#include <unistd.h>

#include <cerrno>
#include <iostream>

namespace coral::cli {

bool stdin_is_terminal() { return isatty(STDIN_FILENO) == 1; }

std::optional<std::string> prompt(std::string_view question, std::string_view default_value) {
  std::cerr << question;
  if (!default_value.empty()) std::cerr << " [" << default_value << "]";
  std::cerr << ": " << std::flush;
  std::string answer;
  if (!std::getline(std::cin, answer)) return std::nullopt;
  while (!answer.empty() && (answer.back() == ' ' || answer.back() == '\r')) answer.pop_back();
  while (!answer.empty() && answer.front() == ' ') answer.erase(0, 1);
  if (answer.empty()) return std::string(default_value);
  return answer;
}

bool write_stdout_unbuffered(std::string_view text) {
  while (!text.empty()) {
    const ssize_t written = ::write(STDOUT_FILENO, text.data(), text.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    text.remove_prefix(static_cast<std::size_t>(written));
  }
  return true;
}

}  // namespace coral::cli
