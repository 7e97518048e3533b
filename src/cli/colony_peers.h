#pragma once
// `coral colony peers [list]`, `coral colony peers add` and `coral colony
// revoke`: the colony's admin socket (colony/admin_server.h), reached only
// on this host. See docs/cli.md.

#include <string>

#include <google/protobuf/timestamp.pb.h>

#include "coral/colony/v1/admin.pb.h"

namespace coral::cli {

// The table `coral colony peers` prints (a header and one line per peer),
// ages counted to `now`; "No peers." when there are none.
std::string format_peer_table(const coral::colony::v1::ListPeersResponse& peers, const google::protobuf::Timestamp& now);

// `coral colony peers --revoked`'s second table: a blank line, a header and
// one line per revoked key (when, name, peer id, kind, key); "No revoked
// keys." when there are none.
std::string format_revoked_table(const coral::colony::v1::ListPeersResponse& peers);

// "12s ago", "2h 15m ago", "never" (no handshake).
std::string format_handshake(const coral::colony::v1::PeerWireGuard& wireguard, const google::protobuf::Timestamp& now);

}  // namespace coral::cli
