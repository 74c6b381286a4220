/**
 * The IPv6 half of KernelSync (dual-stack vxlan and host-gw): a peer's v6 route, NDP neighbour and
 * FDB entry toward its PublicIPv6, as netlink requests, and the reconcile pass that compares the
 * kernel's v6 routes (ours by route protocol) and, on the flannel-v6 device, its permanent
 * neighbours and FDB entries with the desired set. KernelSync calls these beside its IPv4 work.
 */
import { AF_BRIDGE, AF_INET6, NUD_PERMANENT, RT_TABLE_MAIN } from '../../sys/rtnetlink/constants.js';
import type { Message, Request } from '../../sys/rtnetlink/codec.js';
import { parseMac } from '../../sys/rtnetlink/codec.js';
import type { RtNetlink } from '../../sys/rtnetlink/netlink-socket.js';
import { dumpNeighs } from '../../sys/rtnetlink/objects.js';
import {
  deleteFdb6,
  deleteNeigh6,
  deleteRoute6,
  dumpRoutes6,
  parseNeigh6,
  parseRoute6,
  replaceFdb6,
  replaceNeigh6,
  replaceRoute6,
  type RouteSpec6,
} from '../../sys/rtnetlink/objects6.js';

export interface NeighEntry6 {
  readonly ifindex: number;
  readonly ip: bigint;
  readonly mac: string;
}
export interface FdbEntry6 {
  readonly ifindex: number;
  readonly mac: string;
  readonly dst: bigint;
}

/** A peer's IPv6 entries (absent for a single-stack peer). */
export interface PeerEntries6 {
  readonly neighs6?: readonly NeighEntry6[];
  readonly fdbs6?: readonly FdbEntry6[];
  readonly routes6?: readonly RouteSpec6[];
}

export const neigh6Add = (n: NeighEntry6): Request => replaceNeigh6(n.ifindex, n.ip, parseMac(n.mac)!);
export const neigh6Del = (n: NeighEntry6): Request => deleteNeigh6(n.ifindex, n.ip);
export const fdb6Add = (f: FdbEntry6): Request => replaceFdb6(f.ifindex, parseMac(f.mac)!, f.dst);
export const fdb6Del = (f: FdbEntry6): Request => deleteFdb6(f.ifindex, parseMac(f.mac)!, f.dst);

const routeKey6 = (r: { dst: bigint; dstLen: number }): string => `${r.dst}/${r.dstLen}`;
const fdbKey6 = (f: { ifindex: number; mac: string; dst: bigint }): string =>
  `${f.ifindex}/${f.mac}/${f.dst}`;

/** Adds to `stale` and `missing` what makes the kernel's IPv6 entries match `desired`. */
export function reconcile6(
  nl: RtNetlink,
  desired: readonly PeerEntries6[],
  protocol: number,
  device6: number | undefined,
  stale: Request[],
  missing: Request[],
): void {
  const wantRoutes = new Map<string, RouteSpec6>();
  const wantNeighs = new Map<bigint, NeighEntry6>();
  const wantFdbs = new Map<string, FdbEntry6>();
  for (const d of desired) {
    for (const r of d.routes6 ?? []) wantRoutes.set(routeKey6(r), r);
    for (const n of d.neighs6 ?? []) wantNeighs.set(n.ip, n);
    for (const f of d.fdbs6 ?? []) wantFdbs.set(fdbKey6(f), f);
  }
  const haveRoutes = new Set<string>();
  nl.dumpParsed('dump v6 routes', dumpRoutes6(), (m: Message) => {
    const r = parseRoute6(m);
    if (!r || r.table !== RT_TABLE_MAIN || r.protocol !== protocol) return undefined;
    const k = routeKey6(r);
    const want = wantRoutes.get(k);
    if (
      want &&
      (want.gateway ?? -1n) === (r.gateway ?? -1n) &&
      (want.oif === undefined || want.oif === r.oif)
    )
      haveRoutes.add(k);
    else if (!want) stale.push(deleteRoute6(r));
    return undefined;
  });
  for (const [k, r] of wantRoutes) if (!haveRoutes.has(k)) missing.push(replaceRoute6(r));
  if (device6 === undefined) return;
  const ours = (n: ReturnType<typeof parseNeigh6>): n is NonNullable<typeof n> =>
    !!n && n.ifindex === device6 && (n.state & NUD_PERMANENT) !== 0;
  const haveNeighs = new Set<bigint>();
  nl.dumpParsed('dump v6 neighbours', dumpNeighs(AF_INET6), (m: Message) => {
    const n = parseNeigh6(m);
    if (!ours(n)) return undefined;
    const want = wantNeighs.get(n.dst);
    if (want && want.mac === n.lladdr) haveNeighs.add(n.dst);
    else if (!want) stale.push(deleteNeigh6(n.ifindex, n.dst));
    return undefined;
  });
  for (const [k, n] of wantNeighs) if (!haveNeighs.has(k)) missing.push(neigh6Add(n));
  const haveFdbs = new Set<string>();
  nl.dumpParsed('dump v6 fdb', dumpNeighs(AF_BRIDGE), (m: Message) => {
    const f = parseNeigh6(m);
    if (!ours(f) || !f.lladdr || f.lladdr === '00:00:00:00:00:00') return undefined;
    const k = fdbKey6({ ifindex: f.ifindex, mac: f.lladdr, dst: f.dst });
    if (wantFdbs.has(k)) haveFdbs.add(k);
    else stale.push(deleteFdb6(f.ifindex, parseMac(f.lladdr)!, f.dst));
    return undefined;
  });
  for (const [k, f] of wantFdbs) if (!haveFdbs.has(k)) missing.push(fdb6Add(f));
}
