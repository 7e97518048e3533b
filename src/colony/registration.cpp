#include "colony/registration.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <google/protobuf/util/time_util.h>
#include <yaml-cpp/yaml.h>

#include "base/address.h"
#include "base/duration.h"
#include "base/file.h"
#include "base/log.h"
#include "discovery/proof.h"

namespace coral::colony {

discovery::v1::RegisterColonyRequest registration_request(const config::ColonyConfig& config,
                                                          const std::vector<std::string>& public_endpoints) {
  discovery::v1::RegisterColonyRequest request;
  request.set_mesh_id(config.discovery.mesh_id);
  request.set_wireguard_pubkey(config.wireguard.public_key.to_base64());
  for (const auto& endpoint : public_endpoints) request.add_public_endpoints(endpoint);
  request.set_mesh_ipv4(base::format_ipv4(config.wireguard.mesh_ipv4));
  request.set_mesh_ipv6(base::format_ipv6(config.wireguard.mesh_ipv6));
  request.set_connect_port(config.services.connect_port);
  auto& metadata = *request.mutable_metadata();
  metadata["app"] = config.app_name;
  metadata["environment"] = config.environment;
  metadata["colony_id"] = config.colony_id;
  return request;
}

std::chrono::milliseconds retry_delay(int failures, std::chrono::milliseconds interval) {
  std::chrono::milliseconds delay{1000};
  for (int i = 1; i < failures && delay < interval; ++i) delay *= 2;
  return std::min(delay, interval);
}

std::string_view to_string(RegistrationState state) {
  switch (state) {
    case RegistrationState::pending: return "pending";
    case RegistrationState::registered: return "registered";
    case RegistrationState::refused: return "refused";
    case RegistrationState::unreachable: return "unreachable";
  }
  return "pending";
}

std::optional<RegistrationState> parse_registration_state(std::string_view text) {
  for (const auto state : {RegistrationState::pending, RegistrationState::registered, RegistrationState::refused,
                           RegistrationState::unreachable}) {
    if (to_string(state) == text) return state;
  }
  return std::nullopt;
}

std::filesystem::path registration_status_file(const config::ConfigDir& dir, std::string_view colony_id) {
  return dir.colonies_dir() / (std::string(colony_id) + ".registration");
}

std::string to_yaml(const RegistrationStatus& status) {
  YAML::Emitter out;
  out << YAML::BeginMap;
  out << YAML::Key << "state" << YAML::Value << std::string(to_string(status.state));
  out << YAML::Key << "code" << YAML::Value << status.code;
  out << YAML::Key << "reason" << YAML::Value << YAML::DoubleQuoted << status.reason;
  out << YAML::Key << "discovery" << YAML::Value << status.discovery;
  out << YAML::Key << "mesh_id" << YAML::Value << status.mesh_id;
  out << YAML::Key << "proven" << YAML::Value << status.proven;
  out << YAML::Key << "pid" << YAML::Value << status.pid;
  out << YAML::Key << "since" << YAML::Value << status.since;
  out << YAML::EndMap;
  return std::string(out.c_str()) + "\n";
}

std::optional<RegistrationStatus> read_registration_status(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream text;
  text << in.rdbuf();
  try {
    const YAML::Node node = YAML::Load(text.str());
    if (!node.IsMap()) return std::nullopt;
    const auto state = parse_registration_state(node["state"].as<std::string>(""));
    if (!state) return std::nullopt;
    RegistrationStatus status;
    status.state = *state;
    status.code = node["code"].as<std::string>("");
    status.reason = node["reason"].as<std::string>("");
    status.discovery = node["discovery"].as<std::string>("");
    status.mesh_id = node["mesh_id"].as<std::string>("");
    status.proven = node["proven"].as<bool>(false);
    status.pid = node["pid"].as<long>(0);
    status.since = node["since"].as<std::string>("");
    return status;
  } catch (const YAML::Exception&) {
    return std::nullopt;
  }
}

RegistrationLoop::RegistrationLoop(boost::asio::any_io_executor executor, discovery::DiscoveryClient& client,
                                   discovery::v1::RegisterColonyRequest request, std::chrono::milliseconds interval,
                                   crypto::SecretKey colony_key, std::filesystem::path status_file)
    : client_(client),
      request_(std::move(request)),
      interval_(interval),
      colony_key_(std::move(colony_key)),
      status_file_(std::move(status_file)),
      timer_(std::move(executor)) {
  status_.discovery = client_.endpoint();
  status_.mesh_id = request_.mesh_id();
  status_.pid = static_cast<long>(getpid());
}

boost::asio::awaitable<rpc::Result<discovery::v1::RegisterColonyResponse>> RegistrationLoop::register_once() {
  request_.clear_challenge();
  request_.clear_proof();
  {
    // Asked every round, so that a discovery service upgraded meanwhile
    // gets proofs.
    auto challenge = co_await client_.challenge(request_.mesh_id(), request_.wireguard_pubkey());
    if (!challenge && challenge.error().code == rpc::Code::unimplemented) {
      // A discovery service from before proofs: it stores anything anyway.
      if (!legacy_discovery_) {
        log::warn("discovery does not check proofs of possession (an older version); registering without one",
                  {{"discovery", client_.endpoint()}});
      }
      legacy_discovery_ = true;
    } else if (!challenge) {
      co_return std::unexpected(std::move(challenge.error()));
    } else {
      legacy_discovery_ = false;
      const auto discovery_key = crypto::PublicKey::from_base64(challenge->discovery_pubkey());
      if (!discovery_key) {
        co_return rpc::fail(rpc::Code::internal, "discovery sent an invalid key: " + discovery_key.error());
      }
      request_.set_challenge(challenge->challenge());
      const auto proof = discovery::registration_proof(colony_key_, *discovery_key, request_);
      if (!proof) co_return rpc::fail(rpc::Code::internal, "discovery sent a low-order key");
      request_.set_proof(proof->data(), proof->size());
    }
  }
  co_return co_await client_.register_colony(request_);
}

void RegistrationLoop::record(RegistrationState state, const rpc::Error* error) {
  const std::string code = error ? std::string(rpc::to_string(error->code)) : "";
  const std::string reason = error ? error->message : "";
  const bool proven = !request_.proof().empty();
  const bool changed = state != status_.state || code != status_.code || proven != status_.proven;
  if (!changed && !status_.since.empty()) {
    // Same state: keep the file's reason current (a lease end moves), but
    // write only when it changed.
    if (reason != status_.reason) {
      status_.reason = reason;
      if (!status_file_.empty()) (void)base::write_file_atomically(status_file_, to_yaml(status_));
    }
    return;
  }
  status_.reason = reason;
  status_.state = state;
  status_.code = code;
  status_.proven = proven;
  status_.since = google::protobuf::util::TimeUtil::ToString(google::protobuf::util::TimeUtil::GetCurrentTime());
  if (status_file_.empty()) return;
  if (auto written = base::write_file_atomically(status_file_, to_yaml(status_)); !written) {
    log::warn("cannot record the registration state", {{"error", written.error()}});
  }
}

boost::asio::awaitable<void> RegistrationLoop::run() {
  while (!stopping_) {
    auto reply = co_await register_once();
    if (stopping_) break;
    if (reply) {
      if (!registered() || failures_ > 0) {
        log::info(failures_ > 0 ? "registered with discovery again" : "registered with discovery",
                  {{"discovery", client_.endpoint()},
                   {"mesh_id", request_.mesh_id()},
                   {"proven", request_.proof().empty() ? "false" : "true"},
                   {"ttl", std::to_string(reply->ttl()) + "s"},
                   {"next", base::format_duration(interval_)}});
      }
      record(RegistrationState::registered, nullptr);
      failures_ = 0;
    } else {
      const rpc::Code code = reply.error().code;
      const bool transient = code == rpc::Code::unavailable || code == rpc::Code::deadline_exceeded;
      const RegistrationState state = transient ? RegistrationState::unreachable : RegistrationState::refused;
      if (failures_ == 0 || state != status_.state) {
        log::warn(transient ? "discovery registration failed; retrying"
                            : "discovery refused the registration; retrying",
                  {{"discovery", client_.endpoint()},
                   {"mesh_id", request_.mesh_id()},
                   {"code", std::string(rpc::to_string(code))},
                   {"error", reply.error().message}});
      } else {
        log::debug("discovery registration failed again", {{"error", reply.error().message}});
      }
      ++failures_;
      record(state, &reply.error());
    }
    timer_.expires_after(failures_ == 0 ? interval_ : retry_delay(failures_, interval_));
    boost::system::error_code ec;
    co_await timer_.async_wait(boost::asio::redirect_error(boost::asio::use_awaitable, ec));
  }
}

void RegistrationLoop::stop() {
  stopping_ = true;
  timer_.cancel();
  if (!status_file_.empty()) {
    std::error_code ignored;
    std::filesystem::remove(status_file_, ignored);
  }
}

}  // namespace coral::colony
