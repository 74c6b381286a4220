/**
 * I/O: the kernel's view over rtnetlink, with the daemon's own codec (sys/rtnetlink): every
 * link with its master and IPv4 addresses, the main table's IPv4 routes, permanent neighbours and
 * the FDB entries that point at a remote VTEP.
 */
import { describeError } from '../core/errors.js';
import { attrU32, ifinfomsg, parseAttrs, type Message } from '../sys/rtnetlink/codec.js';
import {
  AF_BRIDGE,
  AF_INET,
  AF_UNSPEC,
  IFF_UP,
  NUD_PERMANENT,
  RT_TABLE_MAIN,
  RTM_GETLINK,
} from '../sys/rtnetlink/constants.js';
import { RtNetlink } from '../sys/rtnetlink/netlink-socket.js';
import {
  dumpAddrs,
  dumpNeighs,
  dumpRoutes,
  parseAddr,
  parseLink,
  parseNeigh,
  parseRoute,
} from '../sys/rtnetlink/objects.js';
import type { KernelFacts, KernelLink } from './facts.js';

/** IFLA_MASTER: the bridge a port belongs to (pod veths on cni0). */
const IFLA_MASTER = 10;
/** rtm_flags of a cached route exception (PMTU, redirect), RTA_METRICS and its RTAX_MTU. */
const RTM_F_CLONED = 0x200;
const RTA_METRICS = 8;
const RTAX_MTU = 2;

/** The MTU metric of a route message, if it carries one. */
function routeMtu(msg: Message): number | undefined {
  const metrics = parseAttrs(msg.body, 12).get(RTA_METRICS);
  return metrics ? attrU32(parseAttrs(metrics, 0).get(RTAX_MTU)) : undefined;
}

function linkOf(msg: Message): Omit<KernelLink, 'addrs'> | undefined {
  const l = parseLink(msg);
  if (!l) return undefined;
  const master = attrU32(parseAttrs(msg.body, 16).get(IFLA_MASTER));
  return {
    index: l.index,
    name: l.name,
    up: (l.flags & IFF_UP) !== 0,
    mtu: l.mtu ?? 0,
    ...(l.mac ? { mac: l.mac } : {}),
    ...(l.kind ? { kind: l.kind } : {}),
    ...(master ? { master } : {}),
    ...(l.vxlan
      ? {
          vxlan: {
            vni: l.vxlan.vni,
            port: l.vxlan.port ?? 0,
            local: l.vxlan.local ?? 0,
            link: l.vxlan.link ?? 0,
          },
        }
      : {}),
  };
}

export function gatherKernel(): KernelFacts {
  let nl: RtNetlink;
  try {
    nl = new RtNetlink();
  } catch (err) {
    return {
      links: [],
      routes: [],
      pmtu: [],
      neighs: [],
      fdbs: [],
      error: `cannot open rtnetlink: ${describeError(err)}`,
    };
  }
  try {
    const raw = nl.dump('dump links', { type: RTM_GETLINK, flags: 0, header: ifinfomsg(AF_UNSPEC, 0) });
    const addrs = nl.dump('dump addresses', dumpAddrs()).map(parseAddr);
    const links: KernelLink[] = [];
    for (const m of raw) {
      const l = linkOf(m);
      if (!l) continue;
      links.push({
        ...l,
        addrs: addrs
          .filter((a) => a && a.index === l.index && a.local !== undefined)
          .map((a) => ({ ip: a!.local!, prefixLen: a!.prefixLen })),
      });
    }
    const pmtu: Array<{ dst: number; mtu: number }> = [];
    const routes = nl.dumpParsed('dump routes', dumpRoutes(), (m) => {
      const r = parseRoute(m);
      if (!r || r.table !== RT_TABLE_MAIN) return undefined;
      if ((r.flags & RTM_F_CLONED) !== 0) {
        const mtu = routeMtu(m);
        if (mtu !== undefined) pmtu.push({ dst: r.dst, mtu });
        return undefined;
      }
      return {
        dst: r.dst,
        dstLen: r.dstLen,
        protocol: r.protocol,
        ...(r.gateway !== undefined ? { gateway: r.gateway } : {}),
        ...(r.oif !== undefined ? { oif: r.oif } : {}),
      };
    });
    const neighs = nl.dumpParsed('dump neighbours', dumpNeighs(AF_INET), (m) => {
      const n = parseNeigh(m);
      if (!n || n.dst === undefined || !n.lladdr || (n.state & NUD_PERMANENT) === 0) return undefined;
      return { ifindex: n.ifindex, ip: n.dst, mac: n.lladdr };
    });
    const fdbs = nl.dumpParsed('dump fdb', dumpNeighs(AF_BRIDGE), (m) => {
      const n = parseNeigh(m);
      // Only entries with a remote destination: the vxlan device's forwarding to peers.
      if (!n || n.dst === undefined || !n.lladdr || n.lladdr === '00:00:00:00:00:00') return undefined;
      return { ifindex: n.ifindex, mac: n.lladdr, dst: n.dst };
    });
    return { links, routes, pmtu, neighs, fdbs };
  } catch (err) {
    return { links: [], routes: [], pmtu: [], neighs: [], fdbs: [], error: describeError(err) };
  } finally {
    nl.close();
  }
}
