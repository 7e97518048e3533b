#include "cli/context.h"

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "cli/app.h"
#include "cli/suggest.h"

namespace coral::cli {

namespace {

// A config dir others may write to is used, with a warning (once per run).
std::expected<config::ConfigDir, std::string> warned(std::expected<config::ConfigDir, std::string> dir) {
  static bool warned_once = false;
  if (dir && !warned_once) {
    warned_once = true;
    for (const auto& warning : dir->permission_warnings()) std::cerr << "warning: " << warning << "\n";
  }
  return dir;
}

}  // namespace

std::expected<config::ConfigDir, std::string> Context::config_dir() const {
  if (!config_dir_flag.empty()) return warned(config::ConfigDir(std::filesystem::absolute(config_dir_flag)));
  return warned(config::ConfigDir::resolve());
}

void Context::fail(std::string_view message, std::string_view hint, int code) {
  std::cerr << "error: " << message << "\n";
  if (!hint.empty()) std::cerr << "  " << hint << "\n";
  exit_code = code;
}

void fail_unknown_colony(Context& context, const config::ConfigDir& dir, const std::string& id) {
  auto ids = dir.list_colonies();
  if (ids) {
    if (auto members = dir.list_members()) {
      for (auto& member : *members) {
        if (std::find(ids->begin(), ids->end(), member) == ids->end()) ids->push_back(std::move(member));
      }
      std::sort(ids->begin(), ids->end());
    }
  }
  std::string known;
  if (ids && ids->empty()) known = "there are none yet: create one with coral init";
  if (ids && !ids->empty()) {
    known = "known:";
    for (const auto& known_id : *ids) known += " " + known_id;
    known += " (see: coral colony list)";
  }
  context.fail("no colony '" + id + "' in " + dir.colonies_dir().string() + (ids ? did_you_mean(id, *ids) : std::string()),
               known);
}

void Context::usage(std::string_view message, std::string_view hint) { fail(message, hint, kExitUsage); }

void fail_member_entry(Context& context, const std::string& id) {
  context.fail(id + " is a member entry (imported from a member file): run the colony on its own machine",
               "from here, reach it through a proxy: coral proxy start " + id + ", then coral status --colony " + id);
}

std::optional<ColonyTarget> resolve_colony(Context& context, const std::string& colony_id, ConfigUse use,
                                           std::string_view name_it) {
  auto dir = context.config_dir();
  if (!dir) {
    context.fail(dir.error());
    return std::nullopt;
  }
  std::string id = colony_id;
  if (id.empty()) {
    auto current = dir->require_current();
    if (!current) {
      context.fail(current.error(), "or name one: " + std::string(name_it));
      return std::nullopt;
    }
    id = *current;
  }
  if (auto valid = config::validate_colony_id(id); !valid) {
    context.fail("colony id \"" + id + "\": " + valid.error());
    return std::nullopt;
  }
  ColonyTarget target{.dir = *dir, .id = id, .config = std::nullopt, .member = std::nullopt};
  std::error_code error;
  const bool has_file = std::filesystem::exists(dir->colony_file(id), error) || error;
  const bool has_member = std::filesystem::exists(dir->member_file(id), error) || error;
  if (use == ConfigUse::unloaded) {
    if (has_file || std::filesystem::exists(dir->colony_pid_file(id), error)) return target;
    if (has_member) {
      fail_member_entry(context, id);
    } else {
      fail_unknown_colony(context, *dir, id);
    }
    return std::nullopt;
  }
  if ((use == ConfigUse::member || use == ConfigUse::optional) && (has_file || has_member)) {
    auto member = dir->load_membership(id);
    if (!member) {
      context.fail(member.error());
      return std::nullopt;
    }
    target.member = std::move(*member);
    if (!has_file) {
      if (auto warning = config::permission_warning(dir->member_file(id))) std::cerr << "warning: " << *warning << "\n";
      return target;
    }
  }
  if (!has_file) {
    if (use == ConfigUse::optional) return target;
    if (has_member && use == ConfigUse::required) {
      fail_member_entry(context, id);
    } else {
      fail_unknown_colony(context, *dir, id);
    }
    return std::nullopt;
  }
  auto config = dir->load_colony(id);
  if (!config) {
    context.fail(config.error());
    return std::nullopt;
  }
  if (auto warning = config::permission_warning(dir->colony_file(id))) std::cerr << "warning: " << *warning << "\n";
  target.config = std::move(*config);
  return target;
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

std::string count(long long n, std::string_view one, std::string_view many) {
  return std::to_string(n) + " " + std::string(n == 1 ? one : many);
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
