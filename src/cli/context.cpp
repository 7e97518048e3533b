#include "cli/context.h"

#include <cstdio>
#include <iostream>

namespace coral::cli {

namespace {

// A config dir others may write to is used, with a warning (once per run).
std::expected<colony::ConfigDir, std::string> warned(std::expected<colony::ConfigDir, std::string> dir) {
  static bool warned_once = false;
  if (dir && !warned_once) {
    warned_once = true;
    for (const auto& warning : dir->permission_warnings()) std::cerr << "warning: " << warning << "\n";
  }
  return dir;
}

}  // namespace

std::expected<colony::ConfigDir, std::string> Context::config_dir() const {
  if (!config_dir_flag.empty()) return warned(colony::ConfigDir(std::filesystem::absolute(config_dir_flag)));
  return warned(colony::ConfigDir::resolve());
}

void Context::fail(std::string_view message, std::string_view hint, int code) {
  std::cerr << "error: " << message << "\n";
  if (!hint.empty()) std::cerr << "  " << hint << "\n";
  exit_code = code;
}

std::optional<ColonyTarget> load_target(Context& context, const std::string& colony_id) {
  auto dir = context.config_dir();
  if (!dir) {
    context.fail(dir.error());
    return std::nullopt;
  }
  std::string id = colony_id;
  if (id.empty()) {
    auto current = dir->require_current();
    if (!current) {
      context.fail(current.error());
      return std::nullopt;
    }
    id = *current;
  }
  auto config = dir->load_colony(id);
  if (!config) {
    context.fail(config.error());
    return std::nullopt;
  }
  if (auto warning = colony::permission_warning(dir->colony_file(id))) std::cerr << "warning: " << *warning << "\n";
  return ColonyTarget{*dir, id, std::move(*config)};
}

std::string format_uptime(long long seconds) {
  if (seconds < 0) seconds = 0;
  const long long days = seconds / 86400;
  const long long hours = seconds % 86400 / 3600;
  const long long minutes = seconds % 3600 / 60;
  const long long rest = seconds % 60;
  if (days > 0) return std::to_string(days) + "d " + std::to_string(hours) + "h " + std::to_string(minutes) + "m";
  if (hours > 0) return std::to_string(hours) + "h " + std::to_string(minutes) + "m";
  if (minutes > 0) return std::to_string(minutes) + "m " + std::to_string(rest) + "s";
  return std::to_string(rest) + "s";
}

std::string format_bytes(unsigned long long bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = -1;
  while (value >= 1024 && unit < 3) {
    value /= 1024;
    ++unit;
  }
  // Decide on the rounded value: 1023.9 KiB prints as "1.0 MiB", not
  // "1024 KiB", and 9.97 KiB as "10 KiB", not "10.0 KiB".
  if (value >= 1023.5 && unit < 3) {
    value /= 1024;
    ++unit;
  }
  char text[32];
  std::snprintf(text, sizeof text, value < 9.95 ? "%.1f %s" : "%.0f %s", value, units[unit]);
  return text;
}

}  // namespace coral::cli
