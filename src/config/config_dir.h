#pragma once
// The config directory: where colonies' files, the CLI's settings and
// proxies' runtime state live. `~/.coral` unless CORAL_CONFIG_DIR says
// otherwise (tests always set it).
//
//   <root>/                      0700
//     config.yaml                current_colony: <id>            (0600)
//     colonies/                  0700
//       <id>.yaml                a colony's config and secrets   (0600)
//       <id>.db                  its state (SQLite: peers, assignments)
//       <id>.pid                 held (flock) while the colony runs (0600)
//       <id>.log                 the log of `coral colony start --daemon`
//       <id>.sock                the running colony's admin socket (Unix, 0600)
//     members/                   0700, created by the first import
//       <id>.yaml                a member file: how to join colony <id> from
//                                this machine (member_file.h; 0600)
//     proxies/                   0700, proxies' runtime state
//
// Directories are created 0700 when missing; existing ones keep their mode.
// Colony ids are checked (validate_colony_id) before they become paths, so
// no id reaches outside colonies/.
//
// Errors are for the CLI to print as they are: they name the file and say
// what to do ("no colony named x; known: a, b", "... use --force to replace
// it").

#include <expected>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "config/colony_file.h"
#include "config/member_file.h"

namespace coral::config {

inline constexpr std::string_view kConfigDirEnv = "CORAL_CONFIG_DIR";

// What to tell the operator about a system error met while writing under
// the config dir (a colony file, its state, its PID file), chosen by the
// error's value, never its text: ENOSPC and EDQUOT say the file system of
// `where` is full, EROFS that it is read-only, EACCES and EPERM to check the
// owner and mode of `where`. Other errors (and none): "".
std::string storage_hint(std::error_code error, const std::filesystem::path& where);

class ConfigDir {
 public:
  // Uses `root` as it is (no environment look-up, nothing created).
  explicit ConfigDir(std::filesystem::path root) : root_(std::move(root)) {}

  // CORAL_CONFIG_DIR when set and not empty (made absolute), else
  // $HOME/.coral, else the passwd entry's home + /.coral. Creates nothing.
  static std::expected<ConfigDir, std::string> resolve();

  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path config_file() const { return root_ / "config.yaml"; }
  std::filesystem::path colonies_dir() const { return root_ / "colonies"; }
  std::filesystem::path proxies_dir() const { return root_ / "proxies"; }
  std::filesystem::path members_dir() const { return root_ / "members"; }
  // Paths only; the id is not checked here (load_colony and the others do).
  std::filesystem::path colony_file(std::string_view id) const;
  std::filesystem::path colony_state(std::string_view id) const;
  std::filesystem::path colony_pid_file(std::string_view id) const;
  std::filesystem::path colony_log_file(std::string_view id) const;
  // The running colony's admin socket (AdminService, for `coral colony
  // peers` and `revoke`): local only, mode 0600.
  std::filesystem::path admin_socket(std::string_view id) const;
  // members/<id>.yaml: the member file `coral colony import` stored.
  std::filesystem::path member_file(std::string_view id) const;

  // Creates the root, colonies/ and proxies/ with mode 0700 where missing
  // (parents of the root too). An existing path that is not a directory is
  // an error.
  std::expected<void, std::string> create() const;

  // Warnings for directories of the config dir (the root, colonies/,
  // proxies/) that users other than the owner may write to: they could
  // replace colony files or plant PID files. Missing ones are skipped.
  std::vector<std::string> permission_warnings() const;

  // Ids of colonies/*.yaml (names that are valid colony ids; hidden and
  // temporary files are skipped), sorted. No directory: none.
  std::expected<std::vector<std::string>, std::string> list_colonies() const;

  // Loads colonies/<id>.yaml (colony_file.h's load: errors name the file and the
  // field) and checks that its colony_id is `id`. A missing file is
  // "no colony named <id>; known: a, b".
  std::expected<ColonyConfig, std::string> load_colony(std::string_view id) const;

  // Ids of members/*.yaml, as list_colonies.
  std::expected<std::vector<std::string>, std::string> list_members() const;

  // Loads members/<id>.yaml (member_file.h's load_member_file: errors name
  // the file and the field) and checks that its colony_id is `id`. A
  // missing file is "no member entry for <id>; ...".
  std::expected<MemberConfig, std::string> load_member(std::string_view id) const;

  // Creates members/ (0700) when missing, then writes members/<colony_id>.yaml
  // (0600, atomically). Unless `force`, refuses (changing nothing) to
  // replace a member file of another colony of the same id (another
  // WireGuard public key) or one that does not load, and to add one whose
  // key differs from a colony of that id that lives here; the error says
  // which and mentions --force. A member file of the same colony (a new
  // secret, new endpoints) is replaced. Returns the file's path.
  std::expected<std::filesystem::path, std::string> save_member(const MemberConfig& member, bool force = false) const;

  // How a member joins colony `id` from here: the member file when there is
  // one, else the view of the colony's own file (member_view, with the
  // file's wireguard.public_endpoints), else nullopt. The one look-up the
  // proxy, `coral status` and agents use. Errors: an invalid id, a file that
  // does not load (named, with the field).
  std::expected<std::optional<MemberConfig>, std::string> load_membership(std::string_view id) const;

  // Creates the directories, then writes colonies/<colony_id>.yaml (0600,
  // atomically). Unless `force`, an existing file is left as it is and the
  // error names it and mentions --force. Returns the file's path.
  std::expected<std::filesystem::path, std::string> save_colony(const ColonyConfig& config, bool force = false) const;

  // The current colony's id from config.yaml; nullopt when config.yaml or its
  // current_colony is missing. The colony's file may have gone since:
  // require_current() checks that.
  std::expected<std::optional<std::string>, std::string> current() const;
  // The current colony's id, whose colony file or member file exists; else
  // an error that says
  // what to run (coral init, coral colony use <id>) and lists known ids.
  std::expected<std::string, std::string> require_current() const;
  // Makes `id` the current colony (config.yaml, written atomically, other
  // keys kept). The colony must exist here, as a colony file or a member
  // file: "no colony named x; known: a, b".
  std::expected<void, std::string> use(std::string_view id) const;

 private:
  // Whether colony `id` has a colony file or a member file here.
  bool known(std::string_view id) const;
  // "known: a, b" (colonies and members), or how to make one when there are none.
  std::string known_colonies() const;
  // "no colony named x; " + known_colonies().
  std::string unknown_colony(std::string_view id) const;
  std::expected<void, std::string> check_id(std::string_view id) const;

  std::filesystem::path root_;
};

}  // namespace coral::config
