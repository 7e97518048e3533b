#include "cli/completion.h"

#include <cctype>
#include <iostream>
#include <memory>
#include <vector>

namespace coral::cli {

namespace {

// A bash identifier from the binary's name: "coral-proxy" -> "coral_proxy".
std::string function_name(const std::string& binary) {
  std::string name = "_";
  for (const char c : binary) name += (std::isalnum(static_cast<unsigned char>(c)) ? c : '_');
  return name;
}

// Each command path (" colony start") with the words that may follow it.
void collect(const CLI::App& app, const std::string& path, std::vector<std::pair<std::string, std::string>>& out) {
  std::string words;
  std::vector<const CLI::App*> subs;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->get_name().empty()) continue;
    words += (words.empty() ? "" : " ") + sub->get_name();
    subs.push_back(sub);
  }
  for (const CLI::Option* option : app.get_options()) {
    for (const auto& name : option->get_lnames()) words += (words.empty() ? "--" : " --") + name;
  }
  out.emplace_back(path, words);
  for (const CLI::App* sub : subs) collect(*sub, path + " " + sub->get_name(), out);
}

}  // namespace

std::expected<std::string, std::string> completion_script(const CLI::App& app, std::string_view shell) {
  if (shell != "bash" && shell != "zsh") {
    return std::unexpected("no completion for shell '" + std::string(shell) + "' (there is: bash, zsh)");
  }
  const std::string binary = app.get_name();
  const std::string function = function_name(binary);
  std::vector<std::pair<std::string, std::string>> paths;
  collect(app, "", paths);
  std::string script;
  if (shell == "zsh") {
    script += "#compdef " + binary + "\n# zsh completion for " + binary + " (" + binary +
              " completion zsh): the bash one, through bashcompinit.\n"
              "autoload -U +X bashcompinit && bashcompinit\n";
  } else {
    script += "# bash completion for " + binary + " (" + binary + " completion bash). Load it with:\n#   source <(" +
              binary + " completion bash)\n";
  }
  script += function + "() {\n  local cur=${COMP_WORDS[COMP_CWORD]} path=\"\" i words=\"\"\n"
            "  for ((i = 1; i < COMP_CWORD; i++)); do\n    case \"$path ${COMP_WORDS[i]}\" in\n";
  for (std::size_t i = 1; i < paths.size(); ++i) script += "      \"" + paths[i].first + "\") path=\"$path ${COMP_WORDS[i]}\" ;;\n";
  script += "    esac\n  done\n  case \"$path\" in\n";
  for (const auto& [path, words] : paths) script += "    \"" + path + "\") words=\"" + words + "\" ;;\n";
  script += "  esac\n  mapfile -t COMPREPLY < <(compgen -W \"$words\" -- \"$cur\")\n}\ncomplete -F " + function + " " +
            binary + "\n";
  return script;
}

void add_completion_command(CLI::App& app, int& exit_code) {
  auto shell = std::make_shared<std::string>();
  CLI::App* completion = app.add_subcommand("completion", "Print a shell completion script: source <(coral completion bash)");
  completion->add_option("shell", *shell, "bash or zsh")->required()->check(CLI::IsMember({"bash", "zsh"}));
  completion->callback([&app, &exit_code, shell] {
    auto script = completion_script(app, *shell);
    if (!script) {
      std::cerr << "error: " << script.error() << "\n";
      exit_code = 2;
      return;
    }
    std::cout << *script;
  });
}

}  // namespace coral::cli
