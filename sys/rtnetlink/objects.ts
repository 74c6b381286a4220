/**
 * The kernel objects overlayd programs, as requests (pure builders) and as parsed dump entries:
 * links (incl. vxlan), IPv4 addresses, routes, neighbours (ARP) and bridge FDB entries. Routes,
 * neighbours, FDB entries and addresses are family-objects.ts's, bound to IPv4 (objects6.ts: IPv6).
 */
import {
  attrIpv4,
  attrString,
  attrU16be,
  attrU32,
  attrU8,
  bytesAttr,
  formatMac,
  ifinfomsg,
  ipv4Attr,
  ndmsg,
  nestedAttr,
  parseAttrs,
  stringAttr,
  u16Attr,
  u32Attr,
  u8Attr,
  type Attr,
  type Message,
  type Request,
} from './codec.js';
import * as C from './constants.js';
import { INET, ipv6At } from './family.js';
import {
  addAddrOf,
  deleteAddrOf,
  deleteFdbOf,
  deleteNeighOf,
  dumpAddrsOf,
  dumpRoutesOf,
  getRouteOf,
  readAddr,
  readNeigh,
  readRoute,
  replaceFdbOf,
  replaceNeighOf,
  routeRequest,
  type AddrOf,
  type NeighOf,
  type RouteOf,
  type RouteSpecOf,
} from './family-objects.js';

export interface VxlanInfo {
  readonly vni: number;
  readonly local?: number;
  /** IFLA_VXLAN_LOCAL6, for a device with an IPv6 underlay. */
  readonly local6?: bigint;
  readonly group?: number;
  readonly link?: number;
  readonly port?: number;
  readonly learning?: boolean;
  readonly l2miss?: boolean;
  readonly l3miss?: boolean;
  readonly gbp?: boolean;
  readonly udpCsum?: boolean;
}

export interface Link {
  readonly index: number;
  readonly name: string;
  readonly flags: number;
  readonly mtu?: number;
  readonly mac?: string;
  readonly kind?: string;
  readonly vxlan?: VxlanInfo;
}

export type Route = RouteOf<number>;
export type Neigh = NeighOf<number>;
export type Addr = AddrOf<number>;

// ---- links ----

export const getLinkByName = (name: string): Request => ({
  type: C.RTM_GETLINK,
  flags: 0,
  header: ifinfomsg(C.AF_UNSPEC, 0),
  attrs: [stringAttr(C.IFLA_IFNAME, name)],
});

export function setLink(index: number, opts: { up?: boolean; mtu?: number }): Request {
  const attrs: Attr[] = [];
  if (opts.mtu !== undefined) attrs.push(u32Attr(C.IFLA_MTU, opts.mtu));
  return {
    type: C.RTM_NEWLINK,
    flags: 0,
    header: ifinfomsg(C.AF_UNSPEC, index, opts.up ? C.IFF_UP : 0, opts.up === undefined ? 0 : C.IFF_UP),
    attrs,
  };
}

export const deleteLink = (index: number): Request => ({
  type: C.RTM_DELLINK,
  flags: 0,
  header: ifinfomsg(C.AF_UNSPEC, index),
});

/** A vxlan device as flannel creates it: VNI, local address, underlay device, port, learning, no l2/l3miss. */
export function addVxlanLink(
  name: string,
  mac: Uint8Array,
  mtu: number,
  v: Required<Pick<VxlanInfo, 'vni' | 'local' | 'link' | 'port' | 'learning' | 'gbp'>>,
): Request {
  // flanneld (vishvananda/netlink) always sends UDPCSum=false: outer IPv4 UDP checksum off.
  return vxlanLinkRequest(name, mac, mtu, v, ipv4Attr(C.IFLA_VXLAN_LOCAL, v.local), [
    u8Attr(C.IFLA_VXLAN_UDP_CSUM, 0),
  ]);
}

/**
 * RTM_NEWLINK for a vxlan device, the part both underlay families share: VNI, `local` (the
 * family's IFLA_VXLAN_LOCAL or _LOCAL6), underlay link, port, learning, l2/l3miss off, then
 * `extra` and GBP.
 */
export function vxlanLinkRequest(
  name: string,
  mac: Uint8Array,
  mtu: number,
  v: { vni: number; link: number; port: number; learning: boolean; gbp: boolean },
  local: Attr,
  extra: readonly Attr[],
): Request {
  const data: Attr[] = [
    u32Attr(C.IFLA_VXLAN_ID, v.vni),
    local,
    u32Attr(C.IFLA_VXLAN_LINK, v.link),
    u16Attr(C.IFLA_VXLAN_PORT, v.port, true),
    u8Attr(C.IFLA_VXLAN_LEARNING, v.learning ? 1 : 0),
    u8Attr(C.IFLA_VXLAN_L2MISS, 0),
    u8Attr(C.IFLA_VXLAN_L3MISS, 0),
    ...extra,
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

export function parseLink(msg: Message): Link | undefined {
  if (msg.type !== C.RTM_NEWLINK || msg.body.length < 16) return undefined;
  const v = new DataView(msg.body.buffer, msg.body.byteOffset, 16);
  const attrs = parseAttrs(msg.body, 16);
  const info = attrs.get(C.IFLA_LINKINFO);
  let kind: string | undefined;
  let vxlan: VxlanInfo | undefined;
  if (info) {
    const ia = parseAttrs(info, 0);
    kind = attrString(ia.get(C.IFLA_INFO_KIND));
    const data = ia.get(C.IFLA_INFO_DATA);
    if (kind === 'vxlan' && data) {
      const d = parseAttrs(data, 0);
      vxlan = {
        vni: attrU32(d.get(C.IFLA_VXLAN_ID)) ?? 0,
        local: attrIpv4(d.get(C.IFLA_VXLAN_LOCAL)) ?? 0,
        group: attrIpv4(d.get(C.IFLA_VXLAN_GROUP)) ?? 0,
        link: attrU32(d.get(C.IFLA_VXLAN_LINK)) ?? 0,
        port: attrU16be(d.get(C.IFLA_VXLAN_PORT)) ?? 0,
        learning: attrU8(d.get(C.IFLA_VXLAN_LEARNING)) === 1,
        l2miss: attrU8(d.get(C.IFLA_VXLAN_L2MISS)) === 1,
        l3miss: attrU8(d.get(C.IFLA_VXLAN_L3MISS)) === 1,
        gbp: d.has(C.IFLA_VXLAN_GBP),
        udpCsum: attrU8(d.get(C.IFLA_VXLAN_UDP_CSUM)) === 1,
      };
      const l6 = d.get(C.IFLA_VXLAN_LOCAL6);
      if (l6 && l6.length === 16) vxlan = { ...vxlan, local6: ipv6At(l6, 0) };
    }
  }
  const link: { -readonly [K in keyof Link]: Link[K] } = {
    index: v.getInt32(4, true),
    name: attrString(attrs.get(C.IFLA_IFNAME)) ?? '',
    flags: v.getUint32(8, true),
  };
  const mtu = attrU32(attrs.get(C.IFLA_MTU));
  const mac = formatMac(attrs.get(C.IFLA_ADDRESS));
  if (mtu !== undefined) link.mtu = mtu;
  if (mac !== undefined) link.mac = mac;
  if (kind !== undefined) link.kind = kind;
  if (vxlan !== undefined) link.vxlan = vxlan;
  return link;
}

// ---- addresses, routes, neighbours and FDB (IPv4; family-objects.ts builds them) ----

export const addAddr = (index: number, ip: number, prefixLen: number): Request =>
  addAddrOf(INET, index, ip, prefixLen);
export const deleteAddr = (index: number, ip: number, prefixLen: number): Request =>
  deleteAddrOf(INET, index, ip, prefixLen);
export const dumpAddrs = (): Request => dumpAddrsOf(INET);
export const parseAddr = (msg: Message): Addr | undefined => readAddr(INET, msg);

export type RouteSpec = RouteSpecOf<number>;

export const replaceRoute = (r: RouteSpec): Request =>
  routeRequest(INET, C.RTM_NEWROUTE, C.NLM_F_CREATE | C.NLM_F_REPLACE, r);
export const deleteRoute = (r: RouteSpec): Request => routeRequest(INET, C.RTM_DELROUTE, 0, r);
/** `ip route get <dst>`: the kernel's route choice for one address. */
export const getRoute = (dst: number): Request => getRouteOf(INET, dst);
export const dumpRoutes = (): Request => dumpRoutesOf(INET);
export const parseRoute = (msg: Message): Route | undefined => readRoute(INET, msg);

/** ARP entry: ip → mac on a device, permanent (vxlan: peer subnet .0 → peer VtepMAC). */
export const replaceNeigh = (ifindex: number, ip: number, mac: Uint8Array): Request =>
  replaceNeighOf(INET, ifindex, ip, mac);
export const deleteNeigh = (ifindex: number, ip: number): Request => deleteNeighOf(INET, ifindex, ip);
/** FDB entry on a vxlan device: mac → remote VTEP ip (bridge fdb … self permanent dst ip). */
export const replaceFdb = (ifindex: number, mac: Uint8Array, dst: number): Request =>
  replaceFdbOf(INET, ifindex, mac, dst);
export const deleteFdb = (ifindex: number, mac: Uint8Array, dst: number): Request =>
  deleteFdbOf(INET, ifindex, mac, dst);
/** Every neighbour (or, with AF_BRIDGE, FDB entry) of `family`. */
export const dumpNeighs = (family: number): Request => ({
  type: C.RTM_GETNEIGH,
  flags: 0,
  header: ndmsg(family, 0, 0, 0),
});
/** A neighbour or FDB entry; `dst` only when it is an IPv4 address. */
export const parseNeigh = (msg: Message): Neigh | undefined => readNeigh(INET, msg);
