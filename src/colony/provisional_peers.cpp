#include "colony/provisional_peers.h"

#include "mesh/registration_address.h"

namespace coral::colony {

ProvisionalPeers::ProvisionalPeers(ProvisionalLimits limits, Clock::time_point now)
    : limits_(limits), bucket_(limits.admissions, now) {}

std::optional<ProvisionalRefusal> ProvisionalPeers::admit(const crypto::PublicKey& key, Clock::time_point now) {
  if (auto found = entries_.find(key.bytes()); found != entries_.end()) {
    // Promoted and back as an unknown key (the registry dropped it since):
    // a new admission.
    if (!found->second.promoted) return std::nullopt;
    entries_.erase(found);
  }
  if (entries_.size() >= limits_.max_peers) {
    ++stats_.refused_full;
    return ProvisionalRefusal::full;
  }
  if (!bucket_.try_take(now)) {
    ++stats_.refused_rate;
    return ProvisionalRefusal::rate_limited;
  }
  entries_.emplace(key.bytes(), Entry{.key = key,
                                      .registration_address = mesh::registration_address(key),
                                      .admitted = now,
                                      .promoted = std::nullopt});
  ++stats_.admitted;
  return std::nullopt;
}

void ProvisionalPeers::promote(const crypto::PublicKey& key, Clock::time_point now) {
  auto found = entries_.find(key.bytes());
  if (found == entries_.end() || found->second.promoted) return;
  found->second.promoted = now;
  ++stats_.promoted;
}

bool ProvisionalPeers::sweep(Clock::time_point now) {
  bool changed = false;
  for (auto it = entries_.begin(); it != entries_.end();) {
    const Entry& entry = it->second;
    const bool expired = entry.promoted ? now - *entry.promoted >= limits_.grace : now - entry.admitted >= limits_.ttl;
    if (!expired) {
      ++it;
      continue;
    }
    if (!entry.promoted) ++stats_.forgotten;
    it = entries_.erase(it);
    changed = true;
  }
  return changed;
}

const ProvisionalPeers::Entry* ProvisionalPeers::find(const crypto::PublicKey& key) const {
  auto found = entries_.find(key.bytes());
  return found == entries_.end() ? nullptr : &found->second;
}

std::vector<const ProvisionalPeers::Entry*> ProvisionalPeers::waiting() const {
  std::vector<const Entry*> out;
  for (const auto& [bytes, entry] : entries_) {
    if (!entry.promoted) out.push_back(&entry);
  }
  return out;
}

}  // namespace coral::colony
