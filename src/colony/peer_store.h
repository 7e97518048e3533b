#pragma once
// The colony's persistent registry of mesh peers (agents, proxies and
// devices added by hand): who
// registered with which WireGuard key, and which mesh addresses they hold.
// One SQLite file under the config dir (colonies/<colony-id>.db), so that
// assignments and peers survive a colony restart.
//
// - The file is created with mode 0600 and runs in WAL mode. Every write is
//   one transaction; with synchronous=NORMAL a committed write survives the
//   colony process being killed (a power cut may lose the last few).
// - The schema carries an application_id (so a stray SQLite file is not
//   mistaken for ours) and a user_version, for migrations. A file that is
//   not a SQLite database, belongs to something else or has an unexpected
//   schema is refused with an error naming the file, and left untouched.
// - Times are stored as integer unix nanoseconds.
// - Safe to call from several threads (calls are serialized inside); each
//   call blocks for the duration of its SQLite work (microseconds to a
//   millisecond).

#include <chrono>
#include <cstdint>
#include <expected>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace coral::colony {

struct Peer {
  // agent, proxy: joined with MeshService.Register (and the colony secret).
  // device: added by hand by the colony's operator (`coral colony peers
  // add`): a laptop on kernel WireGuard, a wireguard-go node. It runs no
  // coral, so it never heartbeats: never expired, health "manual".
  enum class Kind { agent, proxy, device };
  using TimePoint = std::chrono::system_clock::time_point;

  std::string peer_id;           // "peer-" + 12 hex digits, stable per pubkey
  std::string wireguard_pubkey;  // base64
  Kind kind = Kind::agent;
  std::string component_name;    // "api", "proxy" for a proxy, the operator's name for a device
  std::uint32_t mesh_index = 0;  // the allocator's slot: unique per colony
  std::string mesh_ipv4;
  std::string mesh_ipv6;
  TimePoint registered_at;
  TimePoint last_seen;
  std::string status;            // "healthy", "degraded" or "unhealthy", as last reported; "manual" for a device

  bool operator==(const Peer&) const = default;
};

// A WireGuard key the colony's operator revoked (`coral colony revoke`):
// remembered so that it never joins again (not by Register, not as a
// device added by hand).
struct RevokedKey {
  std::string wireguard_pubkey;  // base64; the key of the record
  std::string peer_id;           // the peer it was
  std::string name;              // its component or device name
  Peer::Kind kind = Peer::Kind::agent;
  Peer::TimePoint revoked_at;

  bool operator==(const RevokedKey&) const = default;
};

// "agent", "proxy" or "device".
std::string_view to_string(Peer::Kind kind);
// The inverse of to_string; nullopt for anything else.
std::optional<Peer::Kind> parse_peer_kind(std::string_view text);

class PeerStore {
 public:
  template <class T = void>
  using Result = std::expected<T, std::string>;

  // The schema version this build writes (PRAGMA user_version).
  static constexpr int kSchemaVersion = 3;
  // PRAGMA application_id of a coral state database: "corl".
  static constexpr std::int32_t kApplicationId = 0x636f726c;

  // Opens `db_file`, creating it (mode 0600; the directory must exist) when
  // missing, and migrating an older schema. Errors start with the file name:
  // "/x/colonies/c.db: not a coral state database (file is not a database)".
  static Result<PeerStore> open(std::filesystem::path db_file);

  PeerStore(PeerStore&&) noexcept;
  PeerStore& operator=(PeerStore&&) noexcept;
  ~PeerStore();

  const std::filesystem::path& path() const;

  Result<std::optional<Peer>> find_by_pubkey(std::string_view wireguard_pubkey) const;
  Result<std::optional<Peer>> find_by_id(std::string_view peer_id) const;
  Result<std::optional<Peer>> find_by_index(std::uint32_t mesh_index) const;

  // Inserts `peer`, or replaces the record of the same pubkey (and so the
  // same peer_id). Refused, changing nothing, when the pubkey is recorded
  // under another peer_id, the peer_id under another pubkey, or the
  // mesh_index is held by another peer.
  Result<> upsert(const Peer& peer);

  // Records a heartbeat. False when no such peer is recorded.
  Result<bool> touch(std::string_view peer_id, Peer::TimePoint last_seen, std::string_view status);

  // Forgets a peer; returns the mesh_index it held (now free), or nullopt
  // when no such peer is recorded.
  Result<std::optional<std::uint32_t>> remove(std::string_view peer_id);

  // Revokes a peer in one transaction: forgets it (as remove) and records
  // `key` (whose wireguard_pubkey and peer_id must be the peer's) among the
  // revoked keys, replacing an older record of the same key. Returns the
  // mesh_index freed, or nullopt (and records nothing) when no such peer is
  // recorded.
  Result<std::optional<std::uint32_t>> revoke(const RevokedKey& key);

  // Every revoked key, oldest first.
  Result<std::vector<RevokedKey>> revoked() const;

  // Every peer, sorted by mesh_index (the order the allocator replays them).
  Result<std::vector<Peer>> all() const;

  // Peers of `kind` whose last heartbeat (or registration) is before
  // `before`, sorted by mesh_index.
  Result<std::vector<Peer>> last_seen_before(Peer::Kind kind, Peer::TimePoint before) const;

  Result<std::size_t> count() const;
  Result<std::size_t> count(Peer::Kind kind) const;

  // The size of the state: page_count * page_size of the database plus its
  // write-ahead log.
  Result<std::uint64_t> storage_bytes() const;

 private:
  struct Impl;
  explicit PeerStore(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
};

}  // namespace coral::colony
