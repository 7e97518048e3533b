#ifndef CORAL_NETSTACK_ARCH_CC_H
#define CORAL_NETSTACK_ARCH_CC_H
/* lwIP's platform definitions for coral (Linux, glibc): the C library's
 * headers, and diagnostics and assertions through coral's glue. */

#include <stdint.h>
#include <stdlib.h>

#ifdef __cplusplus
extern "C" {
#endif
/* Reports an lwIP assertion (an internal invariant, never input) and
 * aborts. */
void coral_lwip_assert(const char* message, const char* file, int line);
/* A random 32-bit number (the C library's arc4random). */
uint32_t coral_lwip_rand(void);
#ifdef __cplusplus
}
#endif

#define LWIP_PLATFORM_DIAG(x) \
  do {                        \
  } while (0)
#define LWIP_PLATFORM_ASSERT(x) coral_lwip_assert((x), __FILE__, __LINE__)
#define LWIP_RAND() coral_lwip_rand()
#define LWIP_NO_CTYPE_H 0

#endif /* CORAL_NETSTACK_ARCH_CC_H */
