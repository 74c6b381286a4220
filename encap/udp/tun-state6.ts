/**
 * tun-state.ts for the IPv6 TUN of the userspace VXLAN datapath (flannel-v6.<VNI>): MTU, up,
 * address <IPv6 subnet address>/128 as the only one inside the IPv6Network (what the kernel
 * backend puts on its flannel-v6 device), and a route for the whole IPv6Network via the TUN (as the
 * IPv4 TUN routes the Network: an address without a peer is refused here, not sent to the
 * default route). A TUN is IFF_NOARP: the kernel runs no DAD or NDP on it.
 */
import { containsIp6, formatCidr6, type Ipv6Net } from '../../core/ipv6.js';
import { RT_TABLE_MAIN, RTPROT_BOOT } from '../../sys/rtnetlink/constants.js';
import { EEXIST } from '../../sys/rtnetlink/errno.js';
import type { RtNetlink } from '../../sys/rtnetlink/netlink-socket.js';
import {
  addAddr6,
  deleteAddr6,
  dumpAddrs6,
  dumpRoutes6,
  parseAddr6,
  parseRoute6,
  replaceRoute6,
} from '../../sys/rtnetlink/objects6.js';
import { bringUpTun, inspectTunLink, type TunFinding } from './tun-state.js';

export interface TunSpec6 {
  readonly name: string;
  readonly mtu: number;
  /** Our lease's IPv6 subnet: the TUN carries its address as a /128. */
  readonly subnet: Ipv6Net;
  /** The IPv6Network, routed via the TUN. */
  readonly network: Ipv6Net;
}

/** Programs the IPv6 TUN; returns its ifindex. */
export function configureTun6(nl: RtNetlink, spec: TunSpec6): number {
  const index = bringUpTun(nl, spec.name, spec.mtu);
  const ip = spec.subnet.ip;
  for (const m of nl.dump('dump v6 addresses', dumpAddrs6())) {
    const a = parseAddr6(m);
    if (!a || a.index !== index || (a.local === ip && a.prefixLen === 128)) continue;
    if (containsIp6(spec.network, a.local))
      nl.request('delete stale v6 address', deleteAddr6(index, a.local, a.prefixLen));
  }
  nl.request(`add v6 address to ${spec.name}`, addAddr6(index, ip, 128), [EEXIST]);
  const net = spec.network;
  nl.request(
    `route ${formatCidr6(net)} dev ${spec.name}`,
    replaceRoute6({
      dst: net.ip,
      dstLen: net.prefixLen,
      oif: index,
      protocol: RTPROT_BOOT,
    }),
    [EEXIST],
  );
  return index;
}

/** inspectTun for the IPv6 TUN: deleted or replaced, set down, or its IPv6Network route gone. */
export function inspectTun6(nl: RtNetlink, spec: TunSpec6, index: number): TunFinding {
  const bad = inspectTunLink(nl, spec.name, index);
  if (bad) return bad;
  const net = spec.network;
  const routed = nl.dumpParsed('dump v6 routes', dumpRoutes6(), (m) => {
    const r = parseRoute6(m);
    return r && r.table === RT_TABLE_MAIN && r.dst === net.ip && r.dstLen === net.prefixLen && r.oif === index
      ? true
      : undefined;
  });
  if (routed.length === 0)
    return { reason: 'route_lost', detail: `route ${formatCidr6(net)} dev ${spec.name} missing` };
  return undefined;
}
