#include "crypto/sodium.h"

#include <sodium.h>

#include <cstdio>
#include <cstdlib>

namespace coral::crypto {

void ensure_sodium() {
  // sodium_init is itself idempotent and thread-safe; the static only saves
  // the call on every use.
  static const bool ready = [] {
    if (sodium_init() < 0) {
      std::fputs("coral: libsodium failed to initialize\n", stderr);
      std::abort();
    }
    return true;
  }();
  (void)ready;
}

}  // namespace coral::crypto
