#pragma once
// The colony's registration with discovery: what it announces (the
// request, built from the config), the proof that it holds its WireGuard
// private key (discovery/proof.h), and the loop that renews it every
// register_interval. Discovery being down is never fatal: the first failure
// of an outage is logged as a warning with its cause, retries back off from
// 1 s up to the interval, and the recovery is logged.
//
// The loop's state (registered, refused by discovery and why, unreachable)
// is written to colonies/<id>.registration while the colony runs, for
// `coral colony status`.

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "config/colony_file.h"
#include "config/config_dir.h"
#include "coral/discovery/v1/discovery.pb.h"
#include "crypto/keys.h"
#include "discovery/client.h"

namespace coral::colony {

// mesh_id, pubkey, `public_endpoints` (the WireGuard listener's "host:port"s),
// both mesh IPs, connect_port, and metadata app/environment/colony_id.
discovery::v1::RegisterColonyRequest registration_request(const config::ColonyConfig& config,
                                                          const std::vector<std::string>& public_endpoints);

// When to try again after `failures` failures in a row (1 s, 2 s, 4 s, ...
// never more than `interval`).
std::chrono::milliseconds retry_delay(int failures, std::chrono::milliseconds interval);

enum class RegistrationState {
  pending,      // no answer yet
  registered,   // discovery stored the lease
  refused,      // discovery answered with an error (mesh id held by another key, proof refused, full, ...)
  unreachable,  // discovery did not answer (down, timeout, unavailable)
};
std::string_view to_string(RegistrationState state);
std::optional<RegistrationState> parse_registration_state(std::string_view text);

// What colonies/<id>.registration holds.
struct RegistrationStatus {
  RegistrationState state = RegistrationState::pending;
  std::string code;       // the RPC code of the last failure ("already_exists"), empty when registered
  std::string reason;     // discovery's message for it
  std::string discovery;  // the endpoint
  std::string mesh_id;
  bool proven = false;    // the last registration carried a proof of possession
  long pid = 0;           // the colony process that wrote it
  std::string since;      // RFC 3339, when the state last changed
};

std::filesystem::path registration_status_file(const config::ConfigDir& dir, std::string_view colony_id);
std::string to_yaml(const RegistrationStatus& status);
// nullopt when the file is missing or does not parse.
std::optional<RegistrationStatus> read_registration_status(const std::filesystem::path& path);

class RegistrationLoop {
 public:
  // `colony_key` signs the proofs; `status_file` (empty: none) receives the
  // state whenever it changes, and is removed by stop().
  RegistrationLoop(boost::asio::any_io_executor executor, discovery::DiscoveryClient& client,
                   discovery::v1::RegisterColonyRequest request, std::chrono::milliseconds interval,
                   crypto::SecretKey colony_key, std::filesystem::path status_file = {});

  // Registers now, then every interval, until stop().
  boost::asio::awaitable<void> run();
  void stop();

  bool registered() const { return status_.state == RegistrationState::registered; }
  const RegistrationStatus& status() const { return status_; }
  const std::string& last_error() const { return status_.reason; }

 private:
  // One round: challenge, proof, RegisterColony.
  boost::asio::awaitable<rpc::Result<discovery::v1::RegisterColonyResponse>> register_once();
  void record(RegistrationState state, const rpc::Error* error);

  discovery::DiscoveryClient& client_;
  discovery::v1::RegisterColonyRequest request_;
  std::chrono::milliseconds interval_;
  crypto::SecretKey colony_key_;
  std::filesystem::path status_file_;
  boost::asio::steady_timer timer_;
  bool stopping_ = false;
  bool legacy_discovery_ = false;  // GetRegistrationChallenge was unimplemented last time (warned once)
  int failures_ = 0;
  RegistrationStatus status_;
};

}  // namespace coral::colony
