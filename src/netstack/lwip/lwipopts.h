#ifndef CORAL_NETSTACK_LWIPOPTS_H
#define CORAL_NETSTACK_LWIPOPTS_H
/* coral's lwIP options (docs/netstack.md): lwIP compiled from Debian's
 * source package for a userspace TCP/IP stack behind coral's WireGuard.
 *
 * - NO_SYS: no thread of lwIP's own. Everything runs on the io_context of
 *   the WireGuard device (src/netstack/core.cpp drives lwIP's timeouts).
 * - TCP only (plus ICMP/ICMPv6 echo), dual stack, point-to-point: no ARP,
 *   no Ethernet, no forwarding, no fragmentation, no DAD or router
 *   solicitation, no MLD.
 * - Windows and send buffers sized for a fast tunnel (window scaling),
 *   an MSS that fits the WireGuard MTU, fine TCP timers (10 ms ticks: a
 *   delayed ACK waits at most 10 ms) with a retransmission floor set by the
 *   glue (the sent callback) so that a peer's delayed ACKs do not cause
 *   spurious retransmissions.
 * - Memory from malloc (no static pools to size), bounded by the glue's
 *   caps (connections, half-open connections, buffered bytes).
 */

#define NO_SYS 1
#define LWIP_TIMERS 1
#define SYS_LIGHTWEIGHT_PROT 0
#define LWIP_NETCONN 0
#define LWIP_SOCKET 0
#define LWIP_NETIF_API 0

/* Memory: the C library's allocator for the heap and for lwIP's pools. */
#define MEM_LIBC_MALLOC 1
#define MEMP_MEM_MALLOC 1
#define MEM_ALIGNMENT 8
#define MEM_STATS 0
#define MEMP_STATS 0

/* Interfaces: many (one per stack), point to point, no link header. */
#define LWIP_SINGLE_NETIF 0
#define LWIP_ARP 0
#define LWIP_ETHERNET 0
#define PBUF_LINK_HLEN 0
#define LWIP_NETIF_LOOPBACK 0
#define LWIP_HAVE_LOOPIF 0
#define LWIP_NETIF_STATUS_CALLBACK 0
#define LWIP_NETIF_LINK_CALLBACK 0
#define LWIP_NETIF_TX_SINGLE_PBUF 1

/* IPv4 */
#define LWIP_IPV4 1
#define IP_FORWARD 0
#define IP_REASSEMBLY 0
#define IP_FRAG 0
#define IP_OPTIONS_ALLOWED 0
#define LWIP_ICMP 1
#define LWIP_BROADCAST_PING 0
#define LWIP_MULTICAST_PING 0
#define LWIP_DHCP 0
#define LWIP_AUTOIP 0
#define LWIP_IGMP 0

/* IPv6: addresses are configured valid at once. */
#define LWIP_IPV6 1
#define LWIP_IPV6_NUM_ADDRESSES 3
#define LWIP_IPV6_FORWARD 0
#define LWIP_IPV6_FRAG 0
#define LWIP_IPV6_REASS 0
#define LWIP_IPV6_MLD 0
#define LWIP_IPV6_AUTOCONFIG 0
#define LWIP_IPV6_DUP_DETECT_ATTEMPTS 0
#define LWIP_IPV6_SEND_ROUTER_SOLICIT 0
#define LWIP_IPV6_DHCP6 0
#define LWIP_ND6_ALLOW_RA_UPDATES 0
#define LWIP_ICMP6 1

/* Transport: TCP only. */
#define LWIP_RAW 0
#define LWIP_UDP 0
#define LWIP_DNS 0
#define LWIP_TCP 1
#define LWIP_CALLBACK_API 1
#define LWIP_EVENT_API 0
#define LWIP_TCP_KEEPALIVE 1
#define LWIP_TCP_TIMESTAMPS 0
#define LWIP_TCP_SACK_OUT 1
#define LWIP_TCP_MAX_SACK_NUM 4
#define TCP_QUEUE_OOSEQ 1
#define LWIP_TCP_PCB_NUM_EXT_ARGS 1
#define TCP_LISTEN_BACKLOG 1
#define TCP_DEFAULT_LISTEN_BACKLOG 64

/* The WireGuard MTU (1420) less 40 bytes of IPv4 and TCP headers; lwIP
 * lowers it by 20 more for IPv6 (TCP_CALCULATE_EFF_SEND_MSS). */
#define TCP_MSS 1380
#define TCP_CALCULATE_EFF_SEND_MSS 1
#define LWIP_WND_SCALE 1
#define TCP_RCV_SCALE 5
#define TCP_WND (1024 * 1024)
#define TCP_SND_BUF (1024 * 1024)
#define TCP_SND_QUEUELEN ((4 * TCP_SND_BUF + TCP_MSS - 1) / TCP_MSS)
#define TCP_SNDLOWAT 32768
#define TCP_SNDQUEUELOWAT (TCP_SND_QUEUELEN / 2)
#define TCP_OOSEQ_MAX_BYTES (256 * 1024)
#define TCP_OOSEQ_MAX_PBUFS 0
#define TCP_OVERSIZE TCP_MSS
#define TCP_TMR_INTERVAL 10
/* TIME_WAIT lasts 2 x TCP_MSL: 10 s, not 2 minutes (the tunnel delivers
 * no ancient duplicates), so closed connections stop counting sooner. */
#define TCP_MSL 5000UL
#define TCP_MAXRTX 12
#define TCP_SYNMAXRTX 6
#define TCP_TTL 64

/* Checksums: computed in software, checked on input. */
#define CHECKSUM_GEN_IP 1
#define CHECKSUM_GEN_TCP 1
#define CHECKSUM_GEN_ICMP 1
#define CHECKSUM_GEN_ICMP6 1
#define CHECKSUM_CHECK_IP 1
#define CHECKSUM_CHECK_TCP 1
#define CHECKSUM_CHECK_ICMP 1
#define CHECKSUM_CHECK_ICMP6 1
#define LWIP_CHECKSUM_ON_COPY 1

/* Counters that the glue reports. */
#define LWIP_STATS 1
#define LWIP_STATS_DISPLAY 0
#define LINK_STATS 1
#define IP_STATS 1
#define IP6_STATS 1
#define ICMP_STATS 1
#define ICMP6_STATS 1
#define TCP_STATS 1
#define ND6_STATS 0
#define MIB2_STATS 0
#define SYS_STATS 0

/* Hooks into coral's glue (src/netstack/lwip_hooks.h). */
#define LWIP_HOOK_FILENAME "lwip_hooks.h"
#define LWIP_HOOK_TCP_ISN(local_ip, local_port, remote_ip, remote_port) \
  coral_lwip_tcp_isn(local_ip, local_port, remote_ip, remote_port)
#define LWIP_HOOK_IP4_ROUTE_SRC(src, dest) coral_lwip_route4(src, dest)
#define LWIP_HOOK_IP6_ROUTE(src, dest) coral_lwip_route6(src, dest)

#endif /* CORAL_NETSTACK_LWIPOPTS_H */
