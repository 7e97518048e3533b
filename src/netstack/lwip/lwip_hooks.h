#ifndef CORAL_NETSTACK_LWIP_HOOKS_H
#define CORAL_NETSTACK_LWIP_HOOKS_H
/* The lwIP hooks coral's glue implements (src/netstack/core.cpp). */

#include "lwip/ip_addr.h"
#include "lwip/netif.h"

#ifdef __cplusplus
extern "C" {
#endif
/* Initial sequence numbers as RFC 6528 describes them: a keyed hash of the
 * connection's addresses and ports plus a clock. */
u32_t coral_lwip_tcp_isn(const ip_addr_t* local_ip, u16_t local_port, const ip_addr_t* remote_ip,
                         u16_t remote_port);
/* Routes of packets sent on no connection of ours (resets, ICMP answers):
 * out of the interface the packet being answered came in on, else out of
 * the interface that holds the source address. Every stack is a point-to-
 * point interface and connections are bound to theirs, so two stacks may
 * hold the same addresses. */
struct netif* coral_lwip_route4(const ip4_addr_t* src, const ip4_addr_t* dest);
struct netif* coral_lwip_route6(const ip6_addr_t* src, const ip6_addr_t* dest);
#ifdef __cplusplus
}
#endif

#endif /* CORAL_NETSTACK_LWIP_HOOKS_H */
