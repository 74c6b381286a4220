/**
 * The IPv6 twins of objects.ts for dual-stack: routes, neighbours (NDP) and vxlan FDB entries whose
 * addresses are 16 bytes, and /128 interface addresses. Addresses are 128-bit bigints (core/ipv6.ts),
 * written in network order. family-objects.ts builds them; this file binds them to IPv6 and keeps
 * the IPv6 result shapes (a neighbour or address without an IPv6 address is no entry here).
 */
import { type Message, type Request } from './codec.js';
import * as C from './constants.js';
import { INET6, ipv6Attr } from './family.js';
import * as F from './family-objects.js';
import { vxlanLinkRequest } from './objects.js';

export { ipv6At, ipv6Attr, ipv6Bytes } from './family.js';

export interface RouteSpec6 {
  readonly dst: bigint;
  readonly dstLen: number;
  readonly gateway?: bigint;
  readonly oif?: number;
  readonly protocol: number;
  readonly onlink?: boolean;
}

export interface Route6 extends RouteSpec6 {
  readonly table: number;
}

export const replaceRoute6 = (r: RouteSpec6): Request =>
  F.routeRequest(INET6, C.RTM_NEWROUTE, C.NLM_F_CREATE | C.NLM_F_REPLACE, r);
export const deleteRoute6 = (r: RouteSpec6): Request => F.routeRequest(INET6, C.RTM_DELROUTE, 0, r);
export const dumpRoutes6 = (): Request => F.dumpRoutesOf(INET6);
/** `ip -6 route get <dst>`: the kernel's route choice for one IPv6 address. */
export const getRoute6 = (dst: bigint): Request => F.getRouteOf(INET6, dst);

export function parseRoute6(msg: Message): Route6 | undefined {
  const r = F.readRoute(INET6, msg);
  if (!r) return undefined;
  const r6: { -readonly [K in keyof Route6]: Route6[K] } = {
    dst: r.dst,
    dstLen: r.dstLen,
    table: r.table,
    protocol: r.protocol,
  };
  if (r.gateway !== undefined) r6.gateway = r.gateway;
  if (r.oif !== undefined) r6.oif = r.oif;
  if ((r.flags & C.RTNH_F_ONLINK) !== 0) r6.onlink = true;
  return r6;
}

/** NDP entry: ip → mac on a device, permanent (vxlan v6: peer v6 subnet address → its v6 VtepMAC). */
export const replaceNeigh6 = (ifindex: number, ip: bigint, mac: Uint8Array): Request =>
  F.replaceNeighOf(INET6, ifindex, ip, mac);
export const deleteNeigh6 = (ifindex: number, ip: bigint): Request => F.deleteNeighOf(INET6, ifindex, ip);
/** FDB entry on the flannel-v6 device: mac → the peer's PublicIPv6 (bridge fdb … self permanent dst). */
export const replaceFdb6 = (ifindex: number, mac: Uint8Array, dst: bigint): Request =>
  F.replaceFdbOf(INET6, ifindex, mac, dst);
export const deleteFdb6 = (ifindex: number, mac: Uint8Array, dst: bigint): Request =>
  F.deleteFdbOf(INET6, ifindex, mac, dst);

/** A neighbour or FDB entry whose destination is an IPv6 address. */
export interface Neigh6 {
  readonly family: number;
  readonly ifindex: number;
  readonly state: number;
  readonly dst: bigint;
  readonly lladdr?: string;
}
export function parseNeigh6(msg: Message): Neigh6 | undefined {
  const n = F.readNeigh(INET6, msg);
  if (n?.dst === undefined) return undefined;
  const { family, ifindex, state, dst, lladdr } = n;
  return lladdr === undefined ? { family, ifindex, state, dst } : { family, ifindex, state, dst, lladdr };
}

/** `ip -6 addr replace <ip>/<len> dev <index>` (flannel gives flannel-v6.N its subnet address as a /128). */
export const addAddr6 = (index: number, ip: bigint, prefixLen: number): Request =>
  F.addAddrOf(INET6, index, ip, prefixLen);
export const deleteAddr6 = (index: number, ip: bigint, prefixLen: number): Request =>
  F.deleteAddrOf(INET6, index, ip, prefixLen);
export const dumpAddrs6 = (): Request => F.dumpAddrsOf(INET6);
export function parseAddr6(msg: Message): { index: number; prefixLen: number; local: bigint } | undefined {
  const a = F.readAddr(INET6, msg);
  return a?.local === undefined ? undefined : { index: a.index, prefixLen: a.prefixLen, local: a.local };
}

/** flannel-v6.<VNI>: a vxlan device whose underlay is IPv6 (local = our PublicIPv6). */
export const addVxlanLink6 = (
  name: string,
  mac: Uint8Array,
  mtu: number,
  v: { vni: number; local6: bigint; link: number; port: number; learning: boolean; gbp: boolean },
): Request => vxlanLinkRequest(name, mac, mtu, v, ipv6Attr(C.IFLA_VXLAN_LOCAL6, v.local6), []);
