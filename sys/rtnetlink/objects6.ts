/**
 * The IPv6 twins of objects.ts for dual-stack: routes, neighbours (NDP) and vxlan FDB entries whose
 * addresses are 16 bytes, and /128 interface addresses. Addresses are 128-bit bigints (core/ipv6.ts),
 * written in network order. Pure builders and parsers, like objects.ts.
 */
import {
  bytesAttr,
  findAttr,
  ifaddrmsg,
  ifinfomsg,
  macAt,
  ndmsg,
  nestedAttr,
  rtmsg,
  stringAttr,
  u16Attr,
  u32Attr,
  u32le,
  u8Attr,
  type Attr,
  type Message,
  type Request,
} from './codec.js';
import * as C from './constants.js';

export function ipv6Bytes(ip: bigint): Uint8Array {
  const b = new Uint8Array(16);
  for (let i = 15, v = ip; i >= 0; i--, v >>= 8n) b[i] = Number(v & 0xffn);
  return b;
}
export const ipv6Attr = (type: number, ip: bigint): Attr => bytesAttr(type, ipv6Bytes(ip));
export function ipv6At(b: Uint8Array, off: number): bigint {
  let v = 0n;
  for (let i = 0; i < 16; i++) v = (v << 8n) | BigInt(b[off + i]!);
  return v;
}

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

function routeRequest6(type: number, flags: number, r: RouteSpec6): Request {
  const attrs: Attr[] = [ipv6Attr(C.RTA_DST, r.dst)];
  if (r.gateway !== undefined) attrs.push(ipv6Attr(C.RTA_GATEWAY, r.gateway));
  if (r.oif !== undefined) attrs.push(u32Attr(C.RTA_OIF, r.oif));
  return {
    type,
    flags,
    header: rtmsg({
      family: C.AF_INET6,
      dstLen: r.dstLen,
      table: C.RT_TABLE_MAIN,
      protocol: r.protocol,
      // IPv6 routes are universe scope whether or not they have a gateway.
      scope: C.RT_SCOPE_UNIVERSE,
      type: C.RTN_UNICAST,
      flags: r.onlink ? C.RTNH_F_ONLINK : 0,
    }),
    attrs,
  };
}
export const replaceRoute6 = (r: RouteSpec6): Request =>
  routeRequest6(C.RTM_NEWROUTE, C.NLM_F_CREATE | C.NLM_F_REPLACE, r);
export const deleteRoute6 = (r: RouteSpec6): Request => routeRequest6(C.RTM_DELROUTE, 0, r);
export const dumpRoutes6 = (): Request => ({
  type: C.RTM_GETROUTE,
  flags: 0,
  header: rtmsg({ family: C.AF_INET6, dstLen: 0, table: 0, protocol: 0, scope: 0, type: 0 }),
});

const attrLen = new Int32Array(1);

export function parseRoute6(msg: Message): Route6 | undefined {
  if (msg.type !== C.RTM_NEWROUTE || msg.body.length < 12 || msg.body[0] !== C.AF_INET6) return undefined;
  const b = msg.body;
  const dstAt = findAttr(b, 12, C.RTA_DST, attrLen);
  const dst = dstAt >= 0 && attrLen[0] === 16 ? ipv6At(b, dstAt) : 0n;
  const tableAt = findAttr(b, 12, C.RTA_TABLE, attrLen);
  const table = tableAt >= 0 && attrLen[0]! >= 4 ? u32le(b, tableAt) : b[4]!;
  const r: { -readonly [K in keyof Route6]: Route6[K] } = { dst, dstLen: b[1]!, table, protocol: b[5]! };
  const gwAt = findAttr(b, 12, C.RTA_GATEWAY, attrLen);
  if (gwAt >= 0 && attrLen[0] === 16) r.gateway = ipv6At(b, gwAt);
  const oifAt = findAttr(b, 12, C.RTA_OIF, attrLen);
  if (oifAt >= 0 && attrLen[0]! >= 4) r.oif = u32le(b, oifAt);
  if ((u32le(b, 8) & C.RTNH_F_ONLINK) !== 0) r.onlink = true;
  return r;
}

/** NDP entry: ip → mac on a device, permanent (vxlan v6: peer v6 subnet address → its v6 VtepMAC). */
export const replaceNeigh6 = (ifindex: number, ip: bigint, mac: Uint8Array): Request => ({
  type: C.RTM_NEWNEIGH,
  flags: C.NLM_F_CREATE | C.NLM_F_REPLACE,
  header: ndmsg(C.AF_INET6, ifindex, C.NUD_PERMANENT, 0, C.RTN_UNICAST),
  attrs: [ipv6Attr(C.NDA_DST, ip), bytesAttr(C.NDA_LLADDR, mac)],
});
export const deleteNeigh6 = (ifindex: number, ip: bigint): Request => ({
  type: C.RTM_DELNEIGH,
  flags: 0,
  header: ndmsg(C.AF_INET6, ifindex, 0, 0),
  attrs: [ipv6Attr(C.NDA_DST, ip)],
});
/** FDB entry on the flannel-v6 device: mac → the peer's PublicIPv6 (bridge fdb … self permanent dst). */
export const replaceFdb6 = (ifindex: number, mac: Uint8Array, dst: bigint): Request => ({
  type: C.RTM_NEWNEIGH,
  flags: C.NLM_F_CREATE | C.NLM_F_REPLACE,
  header: ndmsg(C.AF_BRIDGE, ifindex, C.NUD_PERMANENT, C.NTF_SELF),
  attrs: [bytesAttr(C.NDA_LLADDR, mac), ipv6Attr(C.NDA_DST, dst)],
});
export const deleteFdb6 = (ifindex: number, mac: Uint8Array, dst: bigint): Request => ({
  type: C.RTM_DELNEIGH,
  flags: 0,
  header: ndmsg(C.AF_BRIDGE, ifindex, 0, C.NTF_SELF),
  attrs: [bytesAttr(C.NDA_LLADDR, mac), ipv6Attr(C.NDA_DST, dst)],
});

/** A neighbour or FDB entry whose destination is an IPv6 address. */
export interface Neigh6 {
  readonly family: number;
  readonly ifindex: number;
  readonly state: number;
  readonly dst: bigint;
  readonly lladdr?: string;
}
export function parseNeigh6(msg: Message): Neigh6 | undefined {
  if (msg.type !== C.RTM_NEWNEIGH || msg.body.length < 12) return undefined;
  const b = msg.body;
  const dstAt = findAttr(b, 12, C.NDA_DST, attrLen);
  if (dstAt < 0 || attrLen[0] !== 16) return undefined;
  const n: { -readonly [K in keyof Neigh6]: Neigh6[K] } = {
    family: b[0]!,
    ifindex: u32le(b, 4) | 0,
    state: b[8]! | (b[9]! << 8),
    dst: ipv6At(b, dstAt),
  };
  const llAt = findAttr(b, 12, C.NDA_LLADDR, attrLen);
  if (llAt >= 0 && (attrLen[0] as number) === 6) n.lladdr = macAt(b, llAt);
  return n;
}

/** `ip -6 addr replace <ip>/<len> dev <index>` (flannel gives flannel-v6.N its subnet address as a /128). */
export function addAddr6(index: number, ip: bigint, prefixLen: number): Request {
  return {
    type: C.RTM_NEWADDR,
    flags: C.NLM_F_CREATE | C.NLM_F_REPLACE,
    header: ifaddrmsg(C.AF_INET6, prefixLen, index),
    attrs: [ipv6Attr(C.IFA_LOCAL, ip), ipv6Attr(C.IFA_ADDRESS, ip)],
  };
}

export function deleteAddr6(index: number, ip: bigint, prefixLen: number): Request {
  return {
    type: C.RTM_DELADDR,
    flags: 0,
    header: ifaddrmsg(C.AF_INET6, prefixLen, index),
    attrs: [ipv6Attr(C.IFA_LOCAL, ip)],
  };
}
export const dumpAddrs6 = (): Request => ({
  type: C.RTM_GETADDR,
  flags: 0,
  header: ifaddrmsg(C.AF_INET6, 0, 0),
});
export function parseAddr6(msg: Message): { index: number; prefixLen: number; local: bigint } | undefined {
  if (msg.type !== C.RTM_NEWADDR || msg.body.length < 8 || msg.body[0] !== C.AF_INET6) return undefined;
  const b = msg.body;
  let at = findAttr(b, 8, C.IFA_LOCAL, attrLen);
  if (at < 0 || attrLen[0] !== 16) at = findAttr(b, 8, C.IFA_ADDRESS, attrLen);
  if (at < 0 || attrLen[0] !== 16) return undefined;
  return { index: u32le(b, 4), prefixLen: b[1]!, local: ipv6At(b, at) };
}

/** `ip -6 route get <dst>`: the kernel's route choice for one IPv6 address. */
export const getRoute6 = (dst: bigint): Request => ({
  type: C.RTM_GETROUTE,
  flags: 0,
  header: rtmsg({ family: C.AF_INET6, dstLen: 128, table: 0, protocol: 0, scope: 0, type: 0 }),
  attrs: [ipv6Attr(C.RTA_DST, dst)],
});

/** flannel-v6.<VNI>: a vxlan device whose underlay is IPv6 (local = our PublicIPv6). */
export function addVxlanLink6(
  name: string,
  mac: Uint8Array,
  mtu: number,
  v: { vni: number; local6: bigint; link: number; port: number; learning: boolean; gbp: boolean },
): Request {
  const data: Attr[] = [
    u32Attr(C.IFLA_VXLAN_ID, v.vni),
    ipv6Attr(C.IFLA_VXLAN_LOCAL6, v.local6),
    u32Attr(C.IFLA_VXLAN_LINK, v.link),
    u16Attr(C.IFLA_VXLAN_PORT, v.port, true),
    u8Attr(C.IFLA_VXLAN_LEARNING, v.learning ? 1 : 0),
    u8Attr(C.IFLA_VXLAN_L2MISS, 0),
    u8Attr(C.IFLA_VXLAN_L3MISS, 0),
  ];
  if (v.gbp) data.push({ type: C.IFLA_VXLAN_GBP });
  return {
    type: C.RTM_NEWLINK,
    flags: C.NLM_F_CREATE | C.NLM_F_EXCL,
    header: ifinfomsg(C.AF_UNSPEC, 0),
    attrs: [
      stringAttr(C.IFLA_IFNAME, name),
      bytesAttr(C.IFLA_ADDRESS, mac),
      u32Attr(C.IFLA_MTU, mtu),
      nestedAttr(C.IFLA_LINKINFO, [
        stringAttr(C.IFLA_INFO_KIND, 'vxlan'),
        nestedAttr(C.IFLA_INFO_DATA, data),
      ]),
    ],
  };
}
