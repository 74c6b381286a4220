/**
 * The kernel state of the udp backend's TUN, as flannel sets it: MTU, up, address
 * <lease subnet IP>/32 as the only one inside the Network, and a route for the whole Network via
 * the TUN. configureTun programs it idempotently (at start, after a repair, when drift is found);
 * inspectTun is the periodic check that finds a deleted or replaced device, a device set down,
 * or a lost route.
 */
import { formatCidr, type Ipv4Net } from '../../core/ipv4.js';
import { OverlaydError } from '../../core/errors.js';
import { IFF_UP, RT_SCOPE_UNIVERSE, RT_TABLE_MAIN, RTPROT_BOOT } from '../../sys/rtnetlink/constants.js';
import { EEXIST } from '../../sys/rtnetlink/errno.js';
import { ensureOnlyAddress, findLink, setUp } from '../../sys/rtnetlink/link-ops.js';
import type { RtNetlink } from '../../sys/rtnetlink/netlink-socket.js';
import { dumpRoutes, parseRoute, replaceRoute } from '../../sys/rtnetlink/objects.js';
import type { Fault } from './repair-policy.js';

export interface TunSpec {
  readonly name: string;
  readonly mtu: number;
  /** Our lease's subnet: the TUN carries its network address as a /32. */
  readonly subnet: Ipv4Net;
  /** The whole flannel Network, routed via the TUN. */
  readonly network: Ipv4Net;
  /**
   * The Network route's scope: flannel's udp backend adds it at universe scope, its wireguard
   * backend at link scope (device.go addRoute); default universe.
   */
  readonly routeScope?: number;
}

/** The TUN named `name` up at `mtu` (either family's first step); returns its ifindex. */
export function bringUpTun(nl: RtNetlink, name: string, mtu: number): number {
  const link = findLink(nl, name);
  if (!link) throw new OverlaydError('BACKEND', `TUN ${name} vanished after it was opened`);
  setUp(nl, link.index, mtu);
  return link.index;
}

/** Programs the TUN; returns its ifindex. */
export function configureTun(nl: RtNetlink, spec: TunSpec): number {
  const index = bringUpTun(nl, spec.name, spec.mtu);
  ensureOnlyAddress(nl, index, spec.subnet.ip, 32, spec.network);
  const net = spec.network;
  nl.request(
    `route ${formatCidr(net)} dev ${spec.name}`,
    replaceRoute({
      dst: net.ip,
      dstLen: net.prefixLen,
      oif: index,
      protocol: RTPROT_BOOT,
      scope: spec.routeScope ?? RT_SCOPE_UNIVERSE,
    }),
    [EEXIST],
  );
  return index;
}

export type TunFinding = Fault | { readonly reason: 'route_lost'; readonly detail: string } | undefined;

/**
 * What is wrong with the device of the TUN we opened as `index` (either family), if anything:
 * deleted (or replaced by another device of the same name: our queues point at the old one) or set down.
 */
export function inspectTunLink(nl: RtNetlink, name: string, index: number): TunFinding {
  const link = findLink(nl, name);
  if (!link) return { reason: 'tun_deleted', detail: `TUN ${name} deleted` };
  if (link.index !== index)
    return { reason: 'tun_deleted', detail: `TUN ${name} deleted and replaced by another device` };
  if ((link.flags & IFF_UP) === 0) return { reason: 'tun_down', detail: `TUN ${name} set down` };
  return undefined;
}

/** What is wrong with the TUN we opened as `index`, if anything: inspectTunLink, or its Network route gone. */
export function inspectTun(nl: RtNetlink, spec: TunSpec, index: number): TunFinding {
  const bad = inspectTunLink(nl, spec.name, index);
  if (bad) return bad;
  const net = spec.network;
  const routed = nl.dumpParsed('dump routes', dumpRoutes(), (m) => {
    const r = parseRoute(m);
    return r && r.table === RT_TABLE_MAIN && r.dst === net.ip && r.dstLen === net.prefixLen && r.oif === index
      ? true
      : undefined;
  });
  if (routed.length === 0)
    return { reason: 'route_lost', detail: `route ${formatCidr(net)} dev ${spec.name} missing` };
  return undefined;
}
