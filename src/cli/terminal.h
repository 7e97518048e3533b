#pragma once
// Asking the user, only when somebody is there to answer: commands prompt
// for missing values when stdin is a terminal and fail with the flag to use
// when it is not (scripts, CI).

#include <optional>
#include <string>
#include <string_view>

namespace coral::cli {

bool stdin_is_terminal();

// Writes "<question> [<default>]: " to stderr and reads one line from
// stdin; an empty answer is the default. nullopt at end of input.
std::optional<std::string> prompt(std::string_view question, std::string_view default_value = {});

// Writes `text` to stdout with write(2), bypassing stdio, whose buffer
// would keep a copy of a key after the caller wiped its own. False when
// stdout takes no more.
bool write_stdout_unbuffered(std::string_view text);

}  // namespace coral::cli
