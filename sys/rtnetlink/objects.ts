/**
 * The kernel objects overlayd programs, as requests (pure builders) and as parsed dump entries:
 * links (incl. vxlan), IPv4 addresses, routes, neighbours (ARP) and bridge FDB entries.
 */
import {
  attrIpv4,
  attrString,
  attrU16be,
  attrU32,
  attrU8,
  bytesAttr,
  findAttr,
  formatMac,
  macAt,
  ifaddrmsg,
  ifinfomsg,
  ipv4Attr,
  nestedAttr,
  ndmsg,
  parseAttrs,
  rtmsg,
  stringAttr,
  u16Attr,
  u32Attr,
  u32be,
  u32le,
  u8Attr,
  type Attr,
  type Message,
  type Request,
} from './codec.js';
import * as C from './constants.js';

export interface VxlanInfo {
  readonly vni: number;
  readonly local?: number;
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

export interface Route {
  readonly dst: number;
  readonly dstLen: number;
  readonly gateway?: number;
  readonly oif?: number;
  readonly table: number;
  readonly protocol: number;
  readonly scope: number;
  readonly type: number;
  readonly flags: number;
}

export interface Neigh {
  readonly family: number;
  readonly ifindex: number;
  readonly state: number;
  readonly flags: number;
  readonly dst?: number;
  readonly lladdr?: string;
}

export interface Addr {
  readonly index: number;
  readonly prefixLen: number;
  readonly local?: number;
}

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
  const data: Attr[] = [
    u32Attr(C.IFLA_VXLAN_ID, v.vni),
    ipv4Attr(C.IFLA_VXLAN_LOCAL, v.local),
    u32Attr(C.IFLA_VXLAN_LINK, v.link),
    u16Attr(C.IFLA_VXLAN_PORT, v.port, true),
    u8Attr(C.IFLA_VXLAN_LEARNING, v.learning ? 1 : 0),
    u8Attr(C.IFLA_VXLAN_L2MISS, 0),
    u8Attr(C.IFLA_VXLAN_L3MISS, 0),
    // flanneld (vishvananda/netlink) always sends UDPCSum=false: outer IPv4 UDP checksum off.
    u8Attr(C.IFLA_VXLAN_UDP_CSUM, 0),
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

// ---- addresses ----

export function addAddr(index: number, ip: number, prefixLen: number): Request {
  return {
    type: C.RTM_NEWADDR,
    flags: C.NLM_F_CREATE | C.NLM_F_REPLACE,
    header: ifaddrmsg(C.AF_INET, prefixLen, index),
    attrs: [ipv4Attr(C.IFA_LOCAL, ip), ipv4Attr(C.IFA_ADDRESS, ip)],
  };
}
export function deleteAddr(index: number, ip: number, prefixLen: number): Request {
  return {
    type: C.RTM_DELADDR,
    flags: 0,
    header: ifaddrmsg(C.AF_INET, prefixLen, index),
    attrs: [ipv4Attr(C.IFA_LOCAL, ip)],
  };
}
export const dumpAddrs = (): Request => ({
  type: C.RTM_GETADDR,
  flags: 0,
  header: ifaddrmsg(C.AF_INET, 0, 0),
});
export function parseAddr(msg: Message): Addr | undefined {
  if (msg.type !== C.RTM_NEWADDR || msg.body.length < 8 || msg.body[0] !== C.AF_INET) return undefined;
  const attrs = parseAttrs(msg.body, 8);
  const local = attrIpv4(attrs.get(C.IFA_LOCAL)) ?? attrIpv4(attrs.get(C.IFA_ADDRESS));
  const a: { index: number; prefixLen: number; local?: number } = {
    index: new DataView(msg.body.buffer, msg.body.byteOffset, 8).getUint32(4, true),
    prefixLen: msg.body[1]!,
  };
  if (local !== undefined) a.local = local;
  return a;
}

// ---- routes ----

export interface RouteSpec {
  readonly dst: number;
  readonly dstLen: number;
  readonly gateway?: number;
  readonly oif?: number;
  readonly protocol: number;
  readonly onlink?: boolean;
  readonly scope?: number;
}

function routeRequest(type: number, flags: number, r: RouteSpec): Request {
  const attrs: Attr[] = [ipv4Attr(C.RTA_DST, r.dst)];
  if (r.gateway !== undefined) attrs.push(ipv4Attr(C.RTA_GATEWAY, r.gateway));
  if (r.oif !== undefined) attrs.push(u32Attr(C.RTA_OIF, r.oif));
  return {
    type,
    flags,
    header: rtmsg({
      family: C.AF_INET,
      dstLen: r.dstLen,
      table: C.RT_TABLE_MAIN,
      protocol: r.protocol,
      scope: r.scope ?? (r.gateway === undefined ? C.RT_SCOPE_LINK : C.RT_SCOPE_UNIVERSE),
      type: C.RTN_UNICAST,
      flags: r.onlink ? C.RTNH_F_ONLINK : 0,
    }),
    attrs,
  };
}
export const replaceRoute = (r: RouteSpec): Request =>
  routeRequest(C.RTM_NEWROUTE, C.NLM_F_CREATE | C.NLM_F_REPLACE, r);
export const deleteRoute = (r: RouteSpec): Request => routeRequest(C.RTM_DELROUTE, 0, r);
/** `ip route get <dst>`: the kernel's route choice for one address. */
export const getRoute = (dst: number): Request => ({
  type: C.RTM_GETROUTE,
  flags: 0,
  header: rtmsg({ family: C.AF_INET, dstLen: 32, table: 0, protocol: 0, scope: 0, type: 0 }),
  attrs: [ipv4Attr(C.RTA_DST, dst)],
});
export const dumpRoutes = (): Request => ({
  type: C.RTM_GETROUTE,
  flags: 0,
  header: rtmsg({ family: C.AF_INET, dstLen: 0, table: 0, protocol: 0, scope: 0, type: 0 }),
});
/** Payload length out-parameter for findAttr (one per module: parsing is synchronous). */
const attrLen = new Int32Array(1);

export function parseRoute(msg: Message): Route | undefined {
  if (msg.type !== C.RTM_NEWROUTE || msg.body.length < 12 || msg.body[0] !== C.AF_INET) return undefined;
  const b = msg.body;
  const dstAt = findAttr(b, 12, C.RTA_DST, attrLen);
  const tableAt = findAttr(b, 12, C.RTA_TABLE, attrLen);
  const r: { -readonly [K in keyof Route]: Route[K] } = {
    dst: dstAt >= 0 && attrLen[0] === 4 ? u32be(b, dstAt) : 0,
    dstLen: b[1]!,
    table: tableAt >= 0 && attrLen[0]! >= 4 ? u32le(b, tableAt) : b[4]!,
    protocol: b[5]!,
    scope: b[6]!,
    type: b[7]!,
    flags: u32le(b, 8),
  };
  const gwAt = findAttr(b, 12, C.RTA_GATEWAY, attrLen);
  if (gwAt >= 0 && attrLen[0] === 4) r.gateway = u32be(b, gwAt);
  const oifAt = findAttr(b, 12, C.RTA_OIF, attrLen);
  if (oifAt >= 0 && attrLen[0]! >= 4) r.oif = u32le(b, oifAt);
  return r;
}

// ---- neighbours and FDB ----

/** ARP entry: ip → mac on a device, permanent (vxlan: peer subnet .0 → peer VtepMAC). */
export const replaceNeigh = (ifindex: number, ip: number, mac: Uint8Array): Request => ({
  type: C.RTM_NEWNEIGH,
  flags: C.NLM_F_CREATE | C.NLM_F_REPLACE,
  header: ndmsg(C.AF_INET, ifindex, C.NUD_PERMANENT, 0, C.RTN_UNICAST),
  attrs: [ipv4Attr(C.NDA_DST, ip), bytesAttr(C.NDA_LLADDR, mac)],
});
export const deleteNeigh = (ifindex: number, ip: number): Request => ({
  type: C.RTM_DELNEIGH,
  flags: 0,
  header: ndmsg(C.AF_INET, ifindex, 0, 0),
  attrs: [ipv4Attr(C.NDA_DST, ip)],
});
/** FDB entry on a vxlan device: mac → remote VTEP ip (bridge fdb … self permanent dst ip). */
export const replaceFdb = (ifindex: number, mac: Uint8Array, dst: number): Request => ({
  type: C.RTM_NEWNEIGH,
  flags: C.NLM_F_CREATE | C.NLM_F_REPLACE,
  header: ndmsg(C.AF_BRIDGE, ifindex, C.NUD_PERMANENT, C.NTF_SELF),
  attrs: [bytesAttr(C.NDA_LLADDR, mac), ipv4Attr(C.NDA_DST, dst)],
});
export const deleteFdb = (ifindex: number, mac: Uint8Array, dst: number): Request => ({
  type: C.RTM_DELNEIGH,
  flags: 0,
  header: ndmsg(C.AF_BRIDGE, ifindex, 0, C.NTF_SELF),
  attrs: [bytesAttr(C.NDA_LLADDR, mac), ipv4Attr(C.NDA_DST, dst)],
});
export const dumpNeighs = (family: number): Request => ({
  type: C.RTM_GETNEIGH,
  flags: 0,
  header: ndmsg(family, 0, 0, 0),
});
export function parseNeigh(msg: Message): Neigh | undefined {
  if (msg.type !== C.RTM_NEWNEIGH || msg.body.length < 12) return undefined;
  const b = msg.body;
  const n: { -readonly [K in keyof Neigh]: Neigh[K] } = {
    family: b[0]!,
    ifindex: u32le(b, 4) | 0,
    state: b[8]! | (b[9]! << 8),
    flags: b[10]!,
  };
  const dstAt = findAttr(b, 12, C.NDA_DST, attrLen);
  if (dstAt >= 0 && attrLen[0] === 4) n.dst = u32be(b, dstAt);
  const llAt = findAttr(b, 12, C.NDA_LLADDR, attrLen);
  if (llAt >= 0 && attrLen[0] === 6) n.lladdr = macAt(b, llAt);
  return n;
}
