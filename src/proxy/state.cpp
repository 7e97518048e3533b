#include "proxy/state.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "base/json_text.h"
#include "base/pid_file.h"

namespace coral::proxy {
namespace {

// Whether `text` is UTF-8 without control characters: what a proxy writes,
// and what `coral proxy list` may print to a terminal as it is.
bool printable(std::string_view text) {
  while (!text.empty()) {
    const auto byte = static_cast<unsigned char>(text.front());
    if (byte < 0x20 || byte == 0x7f) return false;
    const std::size_t length = base::utf8_sequence(text);
    if (length == 0) return false;
    if (length == 2 && byte == 0xc2 && static_cast<unsigned char>(text[1]) < 0xa0) return false;  // C1
    text.remove_prefix(length);
  }
  return true;
}

}  // namespace

std::string to_yaml(const ProxyState& state) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "colony_id" << YAML::Value << state.colony_id;
  out << YAML::Key << "listen" << YAML::Value << state.listen;
  out << YAML::Key << "colony_mesh_ipv4" << YAML::Value << state.colony_mesh_ipv4;
  out << YAML::Key << "colony_mesh_ipv6" << YAML::Value << state.colony_mesh_ipv6;
  out << YAML::Key << "colony_connect_port" << YAML::Value << state.colony_connect_port;
  out << YAML::Key << "forwarding_to" << YAML::Value << state.forwarding_to;
  out << YAML::Key << "mesh_ipv4" << YAML::Value << state.mesh_ipv4;
  out << YAML::Key << "mesh_ipv6" << YAML::Value << state.mesh_ipv6;
  out << YAML::Key << "transport" << YAML::Value << state.transport;
  out << YAML::Key << "status" << YAML::Value << state.status;
  out << YAML::Key << "pid" << YAML::Value << state.pid;
  out << YAML::Key << "started_at" << YAML::Value << state.started_at;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

std::expected<ProxyState, std::string> load_state(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) return std::unexpected(file.string() + ": cannot read");
  std::stringstream text;
  text << in.rdbuf();
  try {
    const YAML::Node root = YAML::Load(text.str());
    if (!root.IsMap()) return std::unexpected(file.string() + ": not a proxy state file");
    ProxyState state;
    const char* unprintable = nullptr;  // the first field that is not printable text
    const auto text_of = [&](const char* key, std::string& out) {
      if (root[key]) out = root[key].as<std::string>();
      if (!unprintable && !printable(out)) unprintable = key;
    };
    text_of("colony_id", state.colony_id);
    text_of("listen", state.listen);
    text_of("colony_mesh_ipv4", state.colony_mesh_ipv4);
    text_of("colony_mesh_ipv6", state.colony_mesh_ipv6);
    text_of("forwarding_to", state.forwarding_to);
    text_of("mesh_ipv4", state.mesh_ipv4);
    text_of("mesh_ipv6", state.mesh_ipv6);
    text_of("transport", state.transport);
    text_of("status", state.status);
    text_of("started_at", state.started_at);
    if (root["colony_connect_port"]) state.colony_connect_port = root["colony_connect_port"].as<std::uint16_t>();
    if (root["pid"]) state.pid = root["pid"].as<pid_t>();
    if (unprintable) return std::unexpected(file.string() + ": " + unprintable + ": not printable UTF-8 text");
    if (state.colony_id.empty() || state.listen.empty()) {
      return std::unexpected(file.string() + ": missing field " + (state.colony_id.empty() ? "colony_id" : "listen"));
    }
    return state;
  } catch (const YAML::Exception& e) {
    return std::unexpected(file.string() + ": invalid proxy state: " + e.what());
  }
}

std::vector<ProxyEntry> list_proxies(const std::filesystem::path& proxies_dir) {
  std::vector<ProxyEntry> entries;
  std::error_code ec;
  for (const auto& item : std::filesystem::directory_iterator(proxies_dir, ec)) {
    const auto& path = item.path();
    if (path.extension() != ".yaml" || path.filename().string().starts_with(".")) continue;
    ProxyEntry entry;
    auto state = load_state(path);
    if (state) {
      entry.state = std::move(*state);
    } else {
      entry.error = state.error();
      entry.state.colony_id = path.stem().string();
    }
    auto pid_path = path;
    pid_path.replace_extension(".pid");
    if (!base::read_pid_file(pid_path).held()) {
      entry.liveness = ProxyEntry::Liveness::stale;
      std::filesystem::remove(path, ec);
      std::filesystem::remove(pid_path, ec);
    }
    entries.push_back(std::move(entry));
  }
  std::sort(entries.begin(), entries.end(),
            [](const ProxyEntry& a, const ProxyEntry& b) { return a.state.colony_id < b.state.colony_id; });
  return entries;
}

std::string_view to_string(StopReport::Unregister unregister) {
  switch (unregister) {
    case StopReport::Unregister::unregistered:
      return "unregistered";
    case StopReport::Unregister::not_registered:
      return "not registered";
    case StopReport::Unregister::failed:
      return "failed";
  }
  return "failed";
}

std::filesystem::path stop_report_file(const std::filesystem::path& proxies_dir, const std::string& colony_id) {
  return proxies_dir / (colony_id + ".stopped");
}

std::string to_yaml(const StopReport& report) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "pid" << YAML::Value << report.pid;
  out << YAML::Key << "unregister" << YAML::Value << std::string(to_string(report.unregister));
  if (!report.error.empty()) out << YAML::Key << "error" << YAML::Value << report.error;
  if (report.closed_tunnel) out << YAML::Key << "closed_tunnel" << YAML::Value << true;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

std::expected<StopReport, std::string> load_stop_report(const std::filesystem::path& file) {
  try {
    const YAML::Node root = YAML::LoadFile(file.string());
    StopReport report;
    report.pid = root["pid"].as<pid_t>();
    const auto unregister = root["unregister"].as<std::string>();
    bool known = false;
    for (const auto kind : {StopReport::Unregister::unregistered, StopReport::Unregister::not_registered,
                            StopReport::Unregister::failed}) {
      if (unregister == to_string(kind)) {
        report.unregister = kind;
        known = true;
      }
    }
    if (!known) return std::unexpected(file.string() + ": unregister: unknown value");
    if (root["error"]) report.error = root["error"].as<std::string>();
    if (root["closed_tunnel"]) report.closed_tunnel = root["closed_tunnel"].as<bool>();
    if (!printable(report.error)) return std::unexpected(file.string() + ": error: not printable");
    return report;
  } catch (const std::exception& error) {
    return std::unexpected(file.string() + ": " + error.what());
  }
}

}  // namespace coral::proxy
