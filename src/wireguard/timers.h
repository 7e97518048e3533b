#pragma once
// The per-peer timers of the protocol (WireGuard paper, section 6), as
// deadlines plus event hooks: the peer engine reports what happened (the
// hooks are named after protocol events, as in the kernel's timers.c and
// wireguard-go's timers.go), asks tick(now) what is due, and arms one
// timer for next_deadline(). No clocks are read and nothing runs by itself.
//
// The five timers:
//   retransmit    an initiation got no response: send another after
//                 REKEY_TIMEOUT + jitter, up to kMaxTimerHandshakes + 1
//                 retries; give up at the deadline after the last one, as
//                 the kernel and wireguard-go do (20 initiations in all,
//                 giving up about 100 s after the first).
//   keepalive     data arrived and nothing was sent back within
//                 KEEPALIVE_TIMEOUT: send a keepalive, so the sender knows
//                 the session works.
//   new handshake data was sent and nothing authenticated came back within
//                 KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + jitter: the session
//                 may be dead, start a new handshake.
//   zero keys     no new session for 3 x REJECT_AFTER_TIME: erase every key.
//   persistent    if configured, a keepalive after that many seconds of
//                 no authenticated traffic either way (for NAT mappings).
//
// Which hooks to call, in order, when:
//   sending an initiation     authenticated_packet_traversal,
//                             authenticated_packet_sent, handshake_initiated
//   sending a response        session_derived, authenticated_packet_traversal,
//                             authenticated_packet_sent, handshake_response_sent
//   consuming a response      session_derived, handshake_complete, then
//                             send a keepalive (or queued data) to confirm
//   consuming an initiation   (nothing; sending the response follows)
//   any handshake message or transport message that authenticated
//                             authenticated_packet_received,
//                             authenticated_packet_traversal
//   ...and it is transport data (not a keepalive): data_received
//   ...and it is the first on a session we responded to: handshake_complete
//   sending transport data    authenticated_packet_traversal,
//                             authenticated_packet_sent, and data_sent unless
//                             it is a keepalive
//   the send path needs a session (none, or keep-key-fresh says so):
//                             want_handshake(now); send an initiation if true
//   device down               stop()
// Cookie replies are not authenticated packets for the timers.
//
// The rate limit: at most one handshake message of ours per REKEY_TIMEOUT
// (want_handshake and tick decide; handshake_initiated and
// handshake_response_sent stamp it), as in the kernel's send.c.
//
// Not thread-safe: the peer serializes its events.

#include <cstddef>
#include <cstdint>
#include <optional>

#include "wireguard/constants.h"

namespace coral::wireguard {

// What tick() found due. Several timers can expire between two ticks, so
// several fields can be set at once.
struct TimerActions {
  // Send a handshake initiation (a retry or a new handshake), then call
  // the hooks of "sending an initiation" even when sending fails (so the
  // retries keep their cadence). The endpoint may be the problem: the
  // device should forget a cached source address first, as the kernel and
  // wireguard-go do.
  bool initiate_handshake = false;
  // The handshake did not complete after every retry: drop the packets
  // queued for the session that never came. Nothing is retried until the
  // send path asks again (want_handshake).
  bool handshake_gave_up = false;
  // Send a keepalive: data came in and nothing went back for
  // KEEPALIVE_TIMEOUT.
  bool send_keepalive = false;
  // Send a keepalive: the persistent keepalive interval passed with no
  // authenticated traffic. One keepalive serves both this and the above.
  bool send_persistent_keepalive = false;
  // Erase every keypair and any half-done handshake of the peer.
  bool zero_keys = false;

  bool any() const {
    return initiate_handshake || handshake_gave_up || send_keepalive || send_persistent_keepalive || zero_keys;
  }
  bool operator==(const TimerActions&) const = default;
};

class PeerTimers {
 public:
  // `timings`: the protocol's durations (tests shorten them). `jitter_seed`
  // seeds the generator of the random part of REKEY_TIMEOUT + jitter
  // (uniform in [0, timings.rekey_timeout_jitter)); production passes
  // random bits, tests a fixed seed. The jitter only spreads retries out,
  // so it need not be unpredictable.
  PeerTimers(const Timings& timings, std::uint64_t jitter_seed);

  // ---- Events (see the table above) ----
  void handshake_initiated(Time now);
  void handshake_response_sent(Time now);
  // A response was consumed, or the first transport message arrived on a
  // session we responded to: the handshake is confirmed.
  void handshake_complete(Time now);
  // A keypair was derived (before sending a response, or after consuming
  // one).
  void session_derived(Time now);
  void data_sent(Time now);
  void data_received(Time now);
  void authenticated_packet_sent(Time now);
  void authenticated_packet_received(Time now);
  void authenticated_packet_traversal(Time now);

  // ---- Requests from the packet path ----
  // The send path needs a new session: there is none, it is expiring, or
  // should_rekey_on_send() said so. Returns true when an initiation should
  // be sent now (false: one went out less than REKEY_TIMEOUT ago and its
  // retries are under way). Starts a fresh count of attempts either way, as
  // the kernel does: a peer with packets to send keeps trying.
  bool want_handshake(Time now);
  // The receive path's keep-key-fresh (should_rekey_on_receive() said so):
  // like want_handshake, but asks only once per session, until the next
  // handshake_complete.
  bool want_last_minute_handshake(Time now);

  // Sets the persistent keepalive interval; zero turns it off. Returns true
  // when it was off and is now on: send a keepalive now (`wg set` does), and
  // the traversal hook of sending it starts the cadence.
  bool set_persistent_keepalive(Duration interval);
  Duration persistent_keepalive() const { return persistent_keepalive_; }

  // Everything due at `now`, each expired timer disarmed (or re-armed as
  // its rule says). Deadlines are inclusive: a timer due at `now` fires.
  TimerActions tick(Time now);
  // The earliest armed deadline; nullopt when nothing is armed. A tick at
  // that time (or later) has something to do.
  std::optional<Time> next_deadline() const;

  // The device went down: disarm everything and forget the attempt count,
  // as wireguard-go's timersStop/timersStart do.
  void stop();

  // When the last handshake completed (for `wg show`'s latest handshake);
  // nullopt before the first.
  std::optional<Time> last_handshake() const { return last_handshake_; }
  // Retries of the current initiation so far.
  std::size_t handshake_attempts() const { return handshake_attempts_; }

 private:
  // The rate limit: whether a handshake message may go out at `now`; if so,
  // stamps it.
  bool may_send_handshake(Time now);
  Duration jitter();

  Timings timings_;
  std::uint64_t jitter_state_;
  Duration persistent_keepalive_{0};

  // Armed deadlines.
  std::optional<Time> retransmit_handshake_;
  std::optional<Time> send_keepalive_;
  std::optional<Time> new_handshake_;
  std::optional<Time> zero_key_material_;
  std::optional<Time> persistent_keepalive_at_;

  // When our last initiation or response went out (the rate limit).
  std::optional<Time> last_handshake_sent_;
  std::optional<Time> last_handshake_;
  std::size_t handshake_attempts_ = 0;
  bool sent_last_minute_handshake_ = false;
};

// ---- Keeping keys fresh (the send and receive paths' checks) ----
// A session is `created` at the handshake that derived it; `we_initiated`
// says which side we were. Ages are inclusive: a session exactly
// REKEY_AFTER_TIME old is due, as with the kernel's birthdate checks.

// After sealing a message: rekey when the session has sent more than
// REKEY_AFTER_MESSAGES messages (`send_counter`: messages sealed so far),
// or, on the initiator only (so that both sides do not rekey at once), when
// it is REKEY_AFTER_TIME old.
bool should_rekey_on_send(Time now, Time created, bool we_initiated, std::uint64_t send_counter,
                          const Timings& timings);
// After opening a data message: the initiator rekeys a session that is
// REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT old, so that a
// peer that only receives gets a new session before this one dies (pair
// with PeerTimers::want_last_minute_handshake).
bool should_rekey_on_receive(Time now, Time created, bool we_initiated, const Timings& timings);
// A session REJECT_AFTER_TIME old neither seals nor opens.
bool session_expired(Time now, Time created, const Timings& timings);

}  // namespace coral::wireguard
