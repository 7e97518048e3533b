#include "cli/colony_commands.h"

#include <algorithm>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <memory>

#include "base/address.h"
#include "base/json_text.h"
#include "base/pid_file.h"
#include "cli/render.h"
#include "coral/cli/v1/documents.pb.h"
#include "crypto/keys.h"

namespace coral::cli {

namespace clv1 = coral::cli::v1;

namespace {

struct ListRow {
  std::string id;
  std::string kind;  // "colony" or "member"
  bool current = false;
  std::string app;
  std::string environment;
  std::string mesh;
  std::string process;
  std::string error;  // the file does not load
};

void run_list(Context& context, bool json) {
  auto dir = context.config_dir();
  if (!dir) return context.fail(dir.error());
  auto ids = dir->list_colonies();
  if (!ids) return context.fail(ids.error());
  auto members = dir->list_members();
  if (!members) return context.fail(members.error());
  auto current = dir->current();
  const std::string current_id = current && *current ? **current : "";

  std::vector<ListRow> rows;
  for (const auto& id : *ids) {
    ListRow row{.id = id, .kind = "colony", .current = id == current_id, .app = {}, .environment = {}, .mesh = {},
                .process = describe_process(*dir, id), .error = {}};
    auto config = dir->load_colony(id);
    if (config) {
      row.app = config->app_name;
      row.environment = config->environment;
      row.mesh = base::format_ipv4(config->wireguard.mesh_ipv4) + " / " + base::format_ipv6(config->wireguard.mesh_ipv6);
    } else {
      row.error = config.error();
    }
    rows.push_back(std::move(row));
  }
  for (const auto& id : *members) {
    ListRow row{.id = id, .kind = "member", .current = id == current_id, .app = {}, .environment = {}, .mesh = {},
                .process = "-", .error = {}};
    auto member = dir->load_member(id);
    if (member) {
      row.app = member->app_name;
      row.environment = member->environment;
      row.mesh = base::format_ipv4(member->mesh_ipv4) + " / " + base::format_ipv6(member->mesh_ipv6);
      crypto::wipe(member->colony_secret);
    } else {
      row.error = member.error();
    }
    rows.push_back(std::move(row));
  }
  std::stable_sort(rows.begin(), rows.end(), [](const ListRow& a, const ListRow& b) { return a.id < b.id; });

  if (json) {
    // The document is proto/coral/cli/v1/documents.proto's ColonyList.
    using base::replace_invalid_utf8;
    clv1::ColonyList list;
    for (const auto& row : rows) {
      clv1::ColonyListEntry& entry = *list.add_colonies();
      entry.set_colony_id(replace_invalid_utf8(row.id));
      entry.set_kind(row.kind);
      entry.set_current(row.current);
      if (!row.app.empty()) entry.set_app_name(replace_invalid_utf8(row.app));
      if (!row.environment.empty()) entry.set_environment(replace_invalid_utf8(row.environment));
      if (!row.mesh.empty()) entry.set_mesh(row.mesh);
      entry.set_process(row.process);
      if (!row.error.empty()) entry.set_error(replace_invalid_utf8(row.error));
    }
    std::cout << proto_json_array(list.colonies()) << "\n";
    return;
  }
  if (rows.empty()) {
    std::cout << "No colonies in " << dir->colonies_dir().string()
              << ". Create one with: coral init --app NAME --env ENV, or import a member file: coral colony "
                 "import FILE\n";
    return;
  }
  std::size_t id_width = 9;
  for (const auto& row : rows) id_width = std::max(id_width, row.id.size());
  std::cout << "  " << std::left << std::setw(int(id_width) + 2) << "COLONY" << std::setw(8) << "KIND"
            << std::setw(14) << "APP"
            << std::setw(14) << "ENVIRONMENT" << std::setw(36) << "MESH IPS" << "PROCESS\n";
  for (const auto& row : rows) {
    std::cout << (row.current ? "* " : "  ") << std::setw(int(id_width) + 2) << row.id << std::setw(8) << row.kind;
    if (!row.error.empty()) {
      std::cout << "invalid: " << row.error << "\n";
      continue;
    }
    std::cout << std::setw(14) << row.app << std::setw(14) << row.environment << std::setw(36) << row.mesh
              << row.process << "\n";
  }
}

void run_current(Context& context) {
  auto dir = context.config_dir();
  if (!dir) return context.fail(dir.error());
  auto current = dir->require_current();
  if (!current) return context.fail(current.error());
  std::cout << *current << "\n";
}

void run_use(Context& context, const std::string& id) {
  // A colony file, a member entry, or (unloaded) a colony whose file is broken but runs.
  std::error_code error;
  auto dir = context.config_dir();
  if (!dir) return context.fail(dir.error());
  const bool member_only = config::validate_colony_id(id) && !std::filesystem::exists(dir->colony_file(id), error) &&
                           std::filesystem::exists(dir->member_file(id), error);
  auto target = resolve_colony(context, id, member_only ? ConfigUse::member : ConfigUse::unloaded);
  if (!target) return;
  if (auto used = target->dir.use(id); !used) return context.fail(used.error());
  std::cout << "✓ Current colony: " << id << "\n";
}

}  // namespace

std::string describe_process(const config::ConfigDir& dir, const std::string& id) {
  const auto state = base::read_pid_file(dir.colony_pid_file(id));
  switch (state.kind) {
    case base::PidFileState::Kind::running:
      return "running (pid " + std::to_string(state.pid) + ")";
    case base::PidFileState::Kind::corrupt:
      return "running (PID file corrupt)";
    case base::PidFileState::Kind::stale:
      return "stopped (stale PID file of pid " + std::to_string(state.pid) + ")";
    case base::PidFileState::Kind::absent:
      break;
  }
  return "stopped";
}

void add_colony_commands(CLI::App& app, Context& context) {
  CLI::App* colony = app.add_subcommand("colony", "Manage colonies: list, current, use, start, stop, status, peers, revoke, rotate-secret, invite, import");
  colony->require_subcommand(1);

  auto list_json = std::make_shared<bool>(false);
  CLI::App* list = colony->add_subcommand("list", "List the colonies of the config directory (* marks the current one)");
  list->add_flag("--json", *list_json, "print a JSON array");
  list->callback([&context, list_json] { run_list(context, *list_json); });

  colony->add_subcommand("current", "Print the current colony's id")->callback([&context] { run_current(context); });

  auto use_id = std::make_shared<std::string>();
  CLI::App* use = colony->add_subcommand("use", "Make a colony the current one");
  use->add_option("colony-id", *use_id, "the colony's id")->required();
  use->callback([&context, use_id] { run_use(context, *use_id); });

  add_colony_lifecycle_commands(*colony, context);
  add_colony_status_command(*colony, context);
  add_colony_peers_commands(*colony, context);
  add_colony_secret_command(*colony, context);
  add_colony_member_commands(*colony, context);
}

}  // namespace coral::cli
