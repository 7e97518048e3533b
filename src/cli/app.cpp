#include "cli/app.h"

#include <exception>
#include <iostream>
#include <vector>

#include "cli/suggest.h"
#include "cli/version.h"

namespace coral::cli {

namespace {

std::vector<std::string> subcommand_names(const CLI::App& app) {
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (!sub->get_name().empty()) names.push_back(sub->get_name());
  }
  return names;
}

// Whether `app` has a positional argument that a bare word could fill.
bool takes_positionals(const CLI::App& app) {
  for (const CLI::Option* option : app.get_options()) {
    if (option->get_positional()) return true;
  }
  return false;
}

// "unknown command 'statsu' — did you mean 'status'?" when the first bare
// word at a level that expects a command names none. Skips options and the
// values of those that take one.
std::optional<std::string> unknown_command(const CLI::App& app, int argc, char** argv) {
  const CLI::App* level = &app;
  std::string path;  // "colony ": the commands given so far
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--") return std::nullopt;
    if (arg.starts_with("-") && arg.size() > 1) {
      if (arg.find('=') != std::string::npos) continue;
      const CLI::Option* option = nullptr;
      for (const CLI::App* at = level; at && !option; at = at->get_parent()) {
        option = at->get_option_no_throw(arg);
      }
      if (option && option->get_type_size() != 0 && option->get_expected_max() > 0) ++i;
      continue;
    }
    const CLI::App* sub = nullptr;
    for (const CLI::App* candidate : level->get_subcommands([](const CLI::App*) { return true; })) {
      if (candidate->check_name(arg)) sub = candidate;
    }
    if (sub) {
      level = sub;
      path += arg + " ";
      continue;
    }
    const auto names = subcommand_names(*level);
    if (names.empty() || takes_positionals(*level)) return std::nullopt;
    auto best = closest(arg, names);
    return "unknown command '" + path + arg + "'" + (best ? " — did you mean '" + path + *best + "'?" : "");
  }
  return std::nullopt;
}

}  // namespace

std::string version_text(std::string_view binary) {
  std::string text = std::string(binary) + " " + kVersion;
  if (*kGitDescribe != '\0') text += std::string(" (") + kGitDescribe + ")";
  return text;
}

void setup_app(CLI::App& app, std::string_view binary) {
  app.set_version_flag("--version", version_text(binary), "print the version and exit");
  app.failure_message([](const CLI::App*, const CLI::Error& error) {
    return std::string("error: ") + error.what() + "\n  run with --help for more information\n";
  });
}

std::optional<int> parse_args(CLI::App& app, int argc, char** argv) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    if (error.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(error);
    if (auto unknown = unknown_command(app, argc, argv)) {
      std::cerr << "error: " << *unknown << "\n  run with --help for the commands\n";
      return kExitUsage;
    }
    app.exit(error);
    return kExitUsage;
  }
  return std::nullopt;
}

int run_app(CLI::App& app, int argc, char** argv, const int& exit_code) {
  try {
    if (auto code = parse_args(app, argc, argv)) return *code;
  } catch (const std::exception& error) {
    std::cerr << "error: " << error.what() << "\n";
    return kExitFailed;
  }
  return exit_code;
}

}  // namespace coral::cli
