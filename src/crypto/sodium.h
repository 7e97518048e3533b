#pragma once
// libsodium's one-time setup, for the crypto library's own files.

namespace coral::crypto {

// Calls sodium_init once (it picks the fastest implementations for this
// CPU); aborts if it fails, which can't happen on Linux with getrandom:
// nothing here can go on without randomness. Cheap after the first call.
void ensure_sodium();

}  // namespace coral::crypto
