/**
 * Routes, neighbours, bridge FDB entries and interface addresses, built and parsed once for both
 * address families (family.ts says what differs). Pure: requests out, dump entries in. objects.ts
 * and objects6.ts give them their per-family names and result shapes.
 */
import {
  bytesAttr,
  findAttr,
  ifaddrmsg,
  macAt,
  ndmsg,
  rtmsg,
  u32Attr,
  u32le,
  type Attr,
  type Message,
  type Request,
} from './codec.js';
import * as C from './constants.js';
import type { AddressFamily } from './family.js';

type Addr = number | bigint;
type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** Payload length out-parameter for findAttr (one per module: parsing is synchronous). */
const attrLen = new Int32Array(1);

/** The attribute of type `type` if its payload is one address of this family, else -1. */
function addrAt<A extends Addr>(f: AddressFamily<A>, b: Uint8Array, from: number, type: number): number {
  const at = findAttr(b, from, type, attrLen);
  return at >= 0 && attrLen[0] === f.bytes ? at : -1;
}

// ---- routes ----

export interface RouteSpecOf<A extends Addr> {
  readonly dst: A;
  readonly dstLen: number;
  readonly gateway?: A;
  readonly oif?: number;
  readonly protocol: number;
  readonly onlink?: boolean;
  readonly scope?: number;
}

export function routeRequest<A extends Addr>(
  f: AddressFamily<A>,
  type: number,
  flags: number,
  r: RouteSpecOf<A>,
): Request {
  const attrs: Attr[] = [f.attr(C.RTA_DST, r.dst)];
  if (r.gateway !== undefined) attrs.push(f.attr(C.RTA_GATEWAY, r.gateway));
  if (r.oif !== undefined) attrs.push(u32Attr(C.RTA_OIF, r.oif));
  return {
    type,
    flags,
    header: rtmsg({
      family: f.af,
      dstLen: r.dstLen,
      table: C.RT_TABLE_MAIN,
      protocol: r.protocol,
      scope: f.routeScope(r),
      type: C.RTN_UNICAST,
      flags: r.onlink ? C.RTNH_F_ONLINK : 0,
    }),
    attrs,
  };
}

/** `ip route get <dst>`: the kernel's route choice for one address. */
export const getRouteOf = <A extends Addr>(f: AddressFamily<A>, dst: A): Request => ({
  type: C.RTM_GETROUTE,
  flags: 0,
  header: rtmsg({ family: f.af, dstLen: f.hostLen, table: 0, protocol: 0, scope: 0, type: 0 }),
  attrs: [f.attr(C.RTA_DST, dst)],
});

export const dumpRoutesOf = <A extends Addr>(f: AddressFamily<A>): Request => ({
  type: C.RTM_GETROUTE,
  flags: 0,
  header: rtmsg({ family: f.af, dstLen: 0, table: 0, protocol: 0, scope: 0, type: 0 }),
});

/** A route of the dump, as the rtmsg header and attributes say. */
export interface RouteOf<A extends Addr> {
  readonly dst: A;
  readonly dstLen: number;
  readonly gateway?: A;
  readonly oif?: number;
  readonly table: number;
  readonly protocol: number;
  readonly scope: number;
  readonly type: number;
  readonly flags: number;
}

export function readRoute<A extends Addr>(f: AddressFamily<A>, msg: Message): RouteOf<A> | undefined {
  if (msg.type !== C.RTM_NEWROUTE || msg.body.length < 12 || msg.body[0] !== f.af) return undefined;
  const b = msg.body;
  const dstAt = addrAt(f, b, 12, C.RTA_DST);
  const tableAt = findAttr(b, 12, C.RTA_TABLE, attrLen);
  const r: Mutable<RouteOf<A>> = {
    dst: dstAt >= 0 ? f.at(b, dstAt) : f.none,
    dstLen: b[1]!,
    table: tableAt >= 0 && attrLen[0]! >= 4 ? u32le(b, tableAt) : b[4]!,
    protocol: b[5]!,
    scope: b[6]!,
    type: b[7]!,
    flags: u32le(b, 8),
  };
  const gwAt = addrAt(f, b, 12, C.RTA_GATEWAY);
  if (gwAt >= 0) r.gateway = f.at(b, gwAt);
  const oifAt = findAttr(b, 12, C.RTA_OIF, attrLen);
  if (oifAt >= 0 && attrLen[0]! >= 4) r.oif = u32le(b, oifAt);
  return r;
}

// ---- neighbours and FDB ----

/** Neighbour entry (ARP / NDP): ip → mac on a device, permanent (vxlan: peer subnet address → its VtepMAC). */
export const replaceNeighOf = <A extends Addr>(
  f: AddressFamily<A>,
  ifindex: number,
  ip: A,
  mac: Uint8Array,
): Request => ({
  type: C.RTM_NEWNEIGH,
  flags: C.NLM_F_CREATE | C.NLM_F_REPLACE,
  header: ndmsg(f.af, ifindex, C.NUD_PERMANENT, 0, C.RTN_UNICAST),
  attrs: [f.attr(C.NDA_DST, ip), bytesAttr(C.NDA_LLADDR, mac)],
});
export const deleteNeighOf = <A extends Addr>(f: AddressFamily<A>, ifindex: number, ip: A): Request => ({
  type: C.RTM_DELNEIGH,
  flags: 0,
  header: ndmsg(f.af, ifindex, 0, 0),
  attrs: [f.attr(C.NDA_DST, ip)],
});
/** FDB entry on a vxlan device: mac → remote VTEP ip (bridge fdb … self permanent dst ip). */
export const replaceFdbOf = <A extends Addr>(
  f: AddressFamily<A>,
  ifindex: number,
  mac: Uint8Array,
  dst: A,
): Request => ({
  type: C.RTM_NEWNEIGH,
  flags: C.NLM_F_CREATE | C.NLM_F_REPLACE,
  header: ndmsg(C.AF_BRIDGE, ifindex, C.NUD_PERMANENT, C.NTF_SELF),
  attrs: [bytesAttr(C.NDA_LLADDR, mac), f.attr(C.NDA_DST, dst)],
});
export const deleteFdbOf = <A extends Addr>(
  f: AddressFamily<A>,
  ifindex: number,
  mac: Uint8Array,
  dst: A,
): Request => ({
  type: C.RTM_DELNEIGH,
  flags: 0,
  header: ndmsg(C.AF_BRIDGE, ifindex, 0, C.NTF_SELF),
  attrs: [bytesAttr(C.NDA_LLADDR, mac), f.attr(C.NDA_DST, dst)],
});

/** A neighbour or FDB entry of the dump; `dst` only when it is an address of family `f`. */
export interface NeighOf<A extends Addr> {
  readonly family: number;
  readonly ifindex: number;
  readonly state: number;
  readonly flags: number;
  readonly dst?: A;
  readonly lladdr?: string;
}

export function readNeigh<A extends Addr>(f: AddressFamily<A>, msg: Message): NeighOf<A> | undefined {
  if (msg.type !== C.RTM_NEWNEIGH || msg.body.length < 12) return undefined;
  const b = msg.body;
  const n: Mutable<NeighOf<A>> = {
    family: b[0]!,
    ifindex: u32le(b, 4) | 0,
    state: b[8]! | (b[9]! << 8),
    flags: b[10]!,
  };
  const dstAt = addrAt(f, b, 12, C.NDA_DST);
  if (dstAt >= 0) n.dst = f.at(b, dstAt);
  const llAt = findAttr(b, 12, C.NDA_LLADDR, attrLen);
  if (llAt >= 0 && attrLen[0] === 6) n.lladdr = macAt(b, llAt);
  return n;
}

// ---- interface addresses ----

export const addAddrOf = <A extends Addr>(
  f: AddressFamily<A>,
  index: number,
  ip: A,
  prefixLen: number,
): Request => ({
  type: C.RTM_NEWADDR,
  flags: C.NLM_F_CREATE | C.NLM_F_REPLACE,
  header: ifaddrmsg(f.af, prefixLen, index),
  attrs: [f.attr(C.IFA_LOCAL, ip), f.attr(C.IFA_ADDRESS, ip)],
});
export const deleteAddrOf = <A extends Addr>(
  f: AddressFamily<A>,
  index: number,
  ip: A,
  prefixLen: number,
): Request => ({
  type: C.RTM_DELADDR,
  flags: 0,
  header: ifaddrmsg(f.af, prefixLen, index),
  attrs: [f.attr(C.IFA_LOCAL, ip)],
});
export const dumpAddrsOf = <A extends Addr>(f: AddressFamily<A>): Request => ({
  type: C.RTM_GETADDR,
  flags: 0,
  header: ifaddrmsg(f.af, 0, 0),
});

/** An address of the dump: IFA_LOCAL, else IFA_ADDRESS (a point-to-point peer's own side). */
export interface AddrOf<A extends Addr> {
  readonly index: number;
  readonly prefixLen: number;
  readonly local?: A;
}

export function readAddr<A extends Addr>(f: AddressFamily<A>, msg: Message): AddrOf<A> | undefined {
  if (msg.type !== C.RTM_NEWADDR || msg.body.length < 8 || msg.body[0] !== f.af) return undefined;
  const b = msg.body;
  let at = addrAt(f, b, 8, C.IFA_LOCAL);
  if (at < 0) at = addrAt(f, b, 8, C.IFA_ADDRESS);
  const a: Mutable<AddrOf<A>> = { index: u32le(b, 4), prefixLen: b[1]! };
  if (at >= 0) a.local = f.at(b, at);
  return a;
}
