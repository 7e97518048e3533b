#include "config/config_dir.h"

#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <system_error>

#include "base/file.h"
#include "base/text.h"
#include "crypto/keys.h"

namespace coral::config {
namespace {

using Error = std::unexpected<std::string>;

constexpr std::string_view kColonySuffix = ".yaml";
constexpr std::string_view kCurrentKey = "current_colony";

std::string system_error(int error) { return std::generic_category().message(error); }

std::string quote(std::string_view text) {
  return base::quote(text, base::QuoteOptions{.max_bytes = std::string_view::npos, .cut_names_size = false,
                                              .keep_utf8 = true});
}

// mkdir -p with mode 0700 for what it creates.
std::expected<void, std::string> make_directory(const std::filesystem::path& path) {
  struct stat info {};
  if (::stat(path.c_str(), &info) == 0) {
    if (!S_ISDIR(info.st_mode)) return Error(path.string() + " exists but is not a directory");
    return {};
  }
  if (errno != ENOENT) return Error("cannot use " + path.string() + ": " + system_error(errno));
  if (path.has_parent_path() && path.parent_path() != path) {
    if (auto parent = make_directory(path.parent_path()); !parent) return parent;
  }
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return Error("cannot create " + path.string() + ": " + system_error(errno));
  }
  return {};
}

// config.yaml as a YAML node: null when the file does not exist.
std::expected<YAML::Node, std::string> read_settings(const std::filesystem::path& file) {
  std::error_code error;
  if (!std::filesystem::exists(file, error)) {
    if (error) return Error("cannot read " + file.string() + ": " + error.message());
    return YAML::Node();
  }
  std::ifstream in(file);
  if (!in) return Error("cannot read " + file.string() + ": " + system_error(errno));
  std::stringstream text;
  text << in.rdbuf();
  try {
    YAML::Node root = YAML::Load(text.str());
    if (!root.IsNull() && !root.IsMap()) {
      return Error(file.string() + ": expected a mapping (" + std::string(kCurrentKey) + ": <colony id>)");
    }
    return root;
  } catch (const YAML::ParserException& e) {
    return Error(file.string() + ": line " + std::to_string(e.mark.line + 1) + ", column " +
                 std::to_string(e.mark.column + 1) + ": invalid YAML: " + e.msg);
  } catch (const YAML::Exception& e) {
    return Error(file.string() + ": invalid YAML: " + e.what());
  }
}

std::string join(const std::vector<std::string>& ids) {
  std::string out;
  for (const std::string& id : ids) {
    if (!out.empty()) out += ", ";
    out += id;
  }
  return out;
}

}  // namespace

std::expected<ConfigDir, std::string> ConfigDir::resolve() {
  if (const char* dir = std::getenv(std::string(kConfigDirEnv).c_str()); dir != nullptr && *dir != '\0') {
    std::error_code error;
    std::filesystem::path absolute = std::filesystem::absolute(dir, error);
    if (error) return Error(std::string(kConfigDirEnv) + "=" + dir + ": " + error.message());
    return ConfigDir(absolute.lexically_normal());
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
    return ConfigDir(std::filesystem::path(home) / ".coral");
  }
  if (const passwd* entry = ::getpwuid(::getuid()); entry != nullptr && entry->pw_dir != nullptr && *entry->pw_dir) {
    return ConfigDir(std::filesystem::path(entry->pw_dir) / ".coral");
  }
  return Error("cannot find the config directory: set " + std::string(kConfigDirEnv) + " or HOME");
}

std::filesystem::path ConfigDir::colony_file(std::string_view id) const {
  return colonies_dir() / (std::string(id) + std::string(kColonySuffix));
}

std::filesystem::path ConfigDir::colony_state(std::string_view id) const {
  return colonies_dir() / (std::string(id) + ".db");
}

std::filesystem::path ConfigDir::colony_pid_file(std::string_view id) const {
  return colonies_dir() / (std::string(id) + ".pid");
}

std::filesystem::path ConfigDir::colony_log_file(std::string_view id) const {
  return colonies_dir() / (std::string(id) + ".log");
}

std::filesystem::path ConfigDir::admin_socket(std::string_view id) const {
  return colonies_dir() / (std::string(id) + ".sock");
}

std::filesystem::path ConfigDir::member_file(std::string_view id) const {
  return members_dir() / (std::string(id) + std::string(kColonySuffix));
}

bool ConfigDir::known(std::string_view id) const {
  std::error_code error;
  if (std::filesystem::exists(colony_file(id), error) || error) return true;
  return std::filesystem::exists(member_file(id), error) || error;
}

std::expected<void, std::string> ConfigDir::create() const {
  for (const std::filesystem::path& dir : {root_, colonies_dir(), proxies_dir()}) {
    if (auto made = make_directory(dir); !made) return made;
  }
  return {};
}

std::vector<std::string> ConfigDir::permission_warnings() const {
  std::vector<std::string> warnings;
  for (const std::filesystem::path& dir : {root_, colonies_dir(), proxies_dir(), members_dir()}) {
    struct stat info {};
    if (::stat(dir.c_str(), &info) != 0 || !S_ISDIR(info.st_mode)) continue;
    const mode_t writable = info.st_mode & 022;
    if (writable == 0) continue;
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(info.st_mode & 07777));
    const char* who = writable == 022 ? "group and others" : (writable & 020) ? "group" : "others";
    warnings.push_back(dir.string() + " is writable by " + who + " (mode " + mode +
                       "): they could replace colony files or plant PID files; run chmod 700 " + dir.string());
  }
  return warnings;
}

std::string storage_hint(std::error_code error, const std::filesystem::path& where) {
  if (error == std::errc::no_space_on_device || error == std::error_code(EDQUOT, std::generic_category())) {
    return "the file system holding " + where.string() + " is full (or over quota): free some space (df -h " +
           where.string() + "), then try again";
  }
  if (error == std::errc::read_only_file_system) {
    return where.string() + " is on a read-only file system: remount it read-write, or use another config "
           "directory (CORAL_CONFIG_DIR)";
  }
  if (error == std::errc::permission_denied || error == std::errc::operation_not_permitted) {
    return "no permission to write in " + where.string() + ": check its owner and mode (ls -ld " + where.string() +
           ")";
  }
  return "";
}

namespace {

// Ids of <dir>/*.yaml that are valid colony ids (hidden and temporary files
// skipped), sorted.
std::expected<std::vector<std::string>, std::string> list_ids(const std::filesystem::path& dir) {
  std::vector<std::string> ids;
  std::error_code error;
  std::filesystem::directory_iterator it(dir, error);
  if (error) {
    if (error == std::errc::no_such_file_or_directory) return ids;
    return Error("cannot list " + dir.string() + ": " + error.message());
  }
  for (const std::filesystem::directory_entry& entry : it) {
    const std::string name = entry.path().filename().string();
    if (!name.ends_with(kColonySuffix) || name.starts_with('.')) continue;
    std::error_code type_error;
    if (!entry.is_regular_file(type_error)) continue;  // follows symlinks
    std::string id = name.substr(0, name.size() - kColonySuffix.size());
    if (validate_colony_id(id)) ids.push_back(std::move(id));
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace

std::expected<std::vector<std::string>, std::string> ConfigDir::list_colonies() const {
  return list_ids(colonies_dir());
}

std::expected<std::vector<std::string>, std::string> ConfigDir::list_members() const {
  return list_ids(members_dir());
}

std::string ConfigDir::known_colonies() const {
  auto ids = list_colonies();
  if (!ids) return ids.error();
  auto members = list_members();
  if (!members) return members.error();
  for (std::string& id : *members) {
    if (std::find(ids->begin(), ids->end(), id) == ids->end()) ids->push_back(std::move(id));
  }
  std::sort(ids->begin(), ids->end());
  if (ids->empty()) return "there are none in " + colonies_dir().string() + " yet: create one with coral init";
  return "known: " + join(*ids);
}

std::string ConfigDir::unknown_colony(std::string_view id) const {
  return "no colony named " + std::string(id) + "; " + known_colonies();
}

std::expected<void, std::string> ConfigDir::check_id(std::string_view id) const {
  if (auto valid = validate_colony_id(id); !valid) return Error("invalid colony id: " + valid.error());
  return {};
}

std::expected<ColonyConfig, std::string> ConfigDir::load_colony(std::string_view id) const {
  if (auto valid = check_id(id); !valid) return Error(valid.error());
  const std::filesystem::path file = colony_file(id);
  std::error_code error;
  if (!std::filesystem::exists(file, error) && !error) return Error(unknown_colony(id));
  auto config = load(file);
  if (!config) return config;
  if (config->colony_id != id) {
    return Error(file.string() + ": colony_id: is " + quote(config->colony_id) + ", but the file is named after " +
                 quote(std::string(id)) + " (rename the file or fix colony_id)");
  }
  return config;
}

std::expected<MemberConfig, std::string> ConfigDir::load_member(std::string_view id) const {
  if (auto valid = check_id(id); !valid) return Error(valid.error());
  const std::filesystem::path file = member_file(id);
  std::error_code error;
  if (!std::filesystem::exists(file, error) && !error) {
    return Error("no member entry for " + std::string(id) + " (" + file.string() +
                 "); import a member file with coral colony import FILE");
  }
  auto member = load_member_file(file);
  if (!member) return member;
  if (member->colony_id != id) {
    const std::string found = member->colony_id;
    crypto::wipe(member->colony_secret);
    return Error(file.string() + ": colony_id: is " + quote(found) + ", but the file is named after " +
                 quote(std::string(id)) + " (rename the file or fix colony_id)");
  }
  return member;
}

std::expected<std::filesystem::path, std::string> ConfigDir::save_member(const MemberConfig& member, bool force) const {
  if (auto valid = check_id(member.colony_id); !valid) return Error(valid.error());
  const std::filesystem::path file = member_file(member.colony_id);
  std::error_code error;
  if (!force && std::filesystem::exists(file, error)) {
    auto existing = load_member_file(file);
    if (!existing) {
      return Error(file.string() + " already exists and does not load (" + existing.error() +
                   "); use --force to replace it");
    }
    crypto::wipe(existing->colony_secret);
    if (existing->colony_public_key != member.colony_public_key) {
      return Error(file.string() + " already holds another colony of id " + member.colony_id + " (WireGuard key " +
                   existing->colony_public_key.to_base64() + ", not " + member.colony_public_key.to_base64() +
                   "); use --force to replace it");
    }
  }
  if (!force && std::filesystem::exists(colony_file(member.colony_id), error)) {
    auto colony = load(colony_file(member.colony_id));
    if (colony && colony->wireguard.public_key != member.colony_public_key) {
      return Error("colony " + member.colony_id + " lives here (" + colony_file(member.colony_id).string() +
                   ") with another WireGuard key (" + colony->wireguard.public_key.to_base64() +
                   "); this member file is for another colony of the same id; use --force to add it anyway");
    }
  }
  if (auto made = create(); !made) return Error(made.error());
  if (auto made = make_directory(members_dir()); !made) return Error(made.error());
  if (auto saved = save(file, member, base::Overwrite::yes); !saved) return Error(saved.error());
  return file;
}

std::expected<std::optional<MemberConfig>, std::string> ConfigDir::load_membership(std::string_view id) const {
  if (auto valid = check_id(id); !valid) return Error(valid.error());
  std::error_code error;
  if (std::filesystem::exists(member_file(id), error) || error) {
    auto member = load_member(id);
    if (!member) return Error(member.error());
    return std::optional<MemberConfig>(std::move(*member));
  }
  if (std::filesystem::exists(colony_file(id), error) || error) {
    auto colony = load_colony(id);
    if (!colony) return Error(colony.error());
    std::vector<std::string> endpoints = colony->wireguard.public_endpoints;
    MemberConfig member = member_view(*colony, std::move(endpoints));
    crypto::wipe(colony->colony_secret);
    return std::optional<MemberConfig>(std::move(member));
  }
  return std::optional<MemberConfig>();
}

std::expected<std::filesystem::path, std::string> ConfigDir::save_colony(const ColonyConfig& config, bool force) const {
  if (auto valid = check_id(config.colony_id); !valid) return Error(valid.error());
  if (auto made = create(); !made) return Error(made.error());
  const std::filesystem::path file = colony_file(config.colony_id);
  auto saved = save(file, config, force ? base::Overwrite::yes : base::Overwrite::no);
  if (!saved) {
    std::error_code error;
    if (!force && std::filesystem::exists(file, error)) {
      return Error(file.string() + " already exists: colony " + config.colony_id +
                   " was created before; use --force to replace it (its keys and colony secret will be lost)");
    }
    return Error(saved.error());
  }
  return file;
}

std::expected<std::optional<std::string>, std::string> ConfigDir::current() const {
  auto settings = read_settings(config_file());
  if (!settings) return Error(settings.error());
  if (settings->IsNull()) return std::optional<std::string>();
  const YAML::Node node = (*settings)[std::string(kCurrentKey)];
  if (!node.IsDefined() || node.IsNull()) return std::optional<std::string>();
  if (!node.IsScalar()) {
    return Error(config_file().string() + ": " + std::string(kCurrentKey) + ": expected a colony id");
  }
  if (auto valid = validate_colony_id(node.Scalar()); !valid) {
    return Error(config_file().string() + ": " + std::string(kCurrentKey) + ": " + valid.error());
  }
  return std::optional<std::string>(node.Scalar());
}

std::expected<std::string, std::string> ConfigDir::require_current() const {
  auto id = current();
  if (!id) return Error(id.error());
  if (!*id) {
    auto ids = list_colonies();
    if (!ids) return Error(ids.error());
    if (ids->empty()) return Error("no colony yet: create one with coral init");
    return Error("no current colony: pick one with coral colony use <id>; known: " + join(*ids));
  }
  if (!known(**id)) {
    return Error("the current colony, " + **id + " (" + config_file().string() + "), has no file " +
                 colony_file(**id).string() + "; " + known_colonies() + "; pick another with coral colony use <id>");
  }
  return **id;
}

std::expected<void, std::string> ConfigDir::use(std::string_view id) const {
  if (auto valid = check_id(id); !valid) return valid;
  if (!known(id)) return Error(unknown_colony(id));
  auto settings = read_settings(config_file());
  if (!settings) return Error(settings.error());  // never replace a file we cannot read
  std::string text;
  if (settings->IsNull()) {
    text =
        "# coral CLI settings (see docs/configuration.md)\n" + std::string(kCurrentKey) + ": " + std::string(id) + "\n";
  } else {
    YAML::Node root = YAML::Clone(*settings);
    root[std::string(kCurrentKey)] = std::string(id);
    YAML::Emitter emitter;
    emitter << root;
    text = std::string(emitter.c_str()) + "\n";
  }
  if (auto made = create(); !made) return made;
  return base::write_file_atomically(config_file(), text, 0600, base::Overwrite::yes);
}

}  // namespace coral::config
