#pragma once
// `coral completion bash|zsh`: a shell completion script made from the
// command tree itself (commands, their subcommands and flags), so it
// cannot fall out of date. zsh uses the bash one through bashcompinit.

#include <expected>
#include <string>
#include <string_view>

#include <CLI/CLI.hpp>

namespace coral::cli {

// Errors name the shells there are.
std::expected<std::string, std::string> completion_script(const CLI::App& app, std::string_view shell);

// Adds `completion <shell>` to `app` (it prints to stdout).
void add_completion_command(CLI::App& app, int& exit_code);

}  // namespace coral::cli
