/**
 * The rtnetlink codec against bytes it did not produce: requests iproute2 sent for the same
 * objects, and replies the kernel sent (test/support/rtnetlink-captures.ts says how they were
 * captured). Expected values are written as literals read off `ip -d link show` & co, never taken
 * from constants.ts, so a wrong constant fails here too.
 */
import { describe, expect, it } from 'vitest';
import { IPROUTE2, KERNEL } from '../../test/support/rtnetlink-captures.js';
import { encodeRequest, errorOf, isDone, isError, parseMac, parseMessages, type Request } from './codec.js';
import {
  addAddr,
  addVxlanLink,
  deleteLink,
  deleteRoute,
  parseLink,
  parseNeigh,
  parseRoute,
  replaceFdb,
  replaceNeigh,
  replaceRoute,
  setLink,
} from './objects.js';

const ip = (a: number, b: number, c: number, d: number): number =>
  ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
const seqOf = (m: Uint8Array): number => new DataView(m.buffer, m.byteOffset).getUint32(8, true);
/** What NetlinkSocket puts on the wire for a request: its flags plus NLM_F_REQUEST|NLM_F_ACK. */
const wire = (req: Request, seq: number): Uint8Array =>
  encodeRequest({ ...req, flags: req.flags | 0x1 | 0x4 }, seq);
const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const same = (ours: Uint8Array, theirs: Uint8Array): void => expect(hexOf(ours)).toBe(hexOf(theirs));

const MAC = parseMac('c6:d2:32:6f:8f:44')!;
const FLANNEL_1 = 5;
const ETH0 = 3;

describe('rtnetlink requests, byte for byte as iproute2 sends them', () => {
  it('link up, MTU and delete', () => {
    same(wire(setLink(FLANNEL_1, { up: true }), seqOf(IPROUTE2.LINK_UP)), IPROUTE2.LINK_UP);
    same(wire(setLink(FLANNEL_1, { mtu: 1400 }), seqOf(IPROUTE2.LINK_MTU)), IPROUTE2.LINK_MTU);
    same(wire(deleteLink(FLANNEL_1), seqOf(IPROUTE2.LINK_DEL)), IPROUTE2.LINK_DEL);
  });

  it('an onlink route via the peer subnet, a direct route, and its deletion', () => {
    const onlink = { dst: ip(10, 244, 3, 0), dstLen: 24, gateway: ip(10, 244, 3, 0), oif: FLANNEL_1 };
    same(
      wire(replaceRoute({ ...onlink, onlink: true, protocol: 77 }), seqOf(IPROUTE2.ROUTE_ONLINK)),
      IPROUTE2.ROUTE_ONLINK,
    );
    const direct = { dst: ip(10, 244, 4, 0), dstLen: 24, oif: ETH0, protocol: 77 };
    same(wire(replaceRoute(direct), seqOf(IPROUTE2.ROUTE_DIRECT)), IPROUTE2.ROUTE_DIRECT);
    same(wire(deleteRoute(direct), seqOf(IPROUTE2.ROUTE_DEL)), IPROUTE2.ROUTE_DEL);
  });

  it('an address', () => {
    same(wire(addAddr(FLANNEL_1, ip(10, 244, 1, 0), 32), seqOf(IPROUTE2.ADDR_ADD)), IPROUTE2.ADDR_ADD);
  });

  it('a permanent neighbour: as iproute2 but for ndm_type, which flannel sets to RTN_UNICAST', () => {
    const ours = wire(replaceNeigh(FLANNEL_1, ip(10, 244, 3, 0), MAC), seqOf(IPROUTE2.NEIGH_REPLACE));
    const theirs = IPROUTE2.NEIGH_REPLACE.slice();
    expect(theirs[16 + 11]).toBe(0); // iproute2 leaves ndm_type 0; the kernel ignores it for AF_INET
    theirs[16 + 11] = 1;
    same(ours, theirs);
  });

  it('a vxlan FDB entry: as iproute2 but for the state, NUD_PERMANENT alone as flannel sends it', () => {
    const ours = wire(replaceFdb(FLANNEL_1, MAC, ip(198, 18, 0, 2)), seqOf(IPROUTE2.FDB_REPLACE));
    const theirs = IPROUTE2.FDB_REPLACE.slice();
    expect(theirs[16 + 8]).toBe(0xc0); // iproute2's "permanent" is NUD_PERMANENT|NUD_NOARP
    theirs[16 + 8] = 0x80;
    same(ours, theirs);
  });

  it("flannel's vxlan device: the same attributes as iproute2's, plus explicit l2miss/l3miss off", () => {
    const req = addVxlanLink('flannel.1', parseMac('02:00:00:00:00:01')!, 1450, {
      vni: 1,
      local: ip(198, 18, 0, 1),
      link: ETH0,
      port: 8472,
      learning: false,
      gbp: false,
    });
    const ours = wire(req, seqOf(IPROUTE2.VXLAN_ADD));
    const theirs = IPROUTE2.VXLAN_ADD;
    // Same type, flags (REQUEST|ACK|EXCL|CREATE), seq and ifinfomsg; attribute order differs
    // (the kernel parses attributes by type), so they are compared as trees.
    same(ours.subarray(4, 32), theirs.subarray(4, 32));
    const expected = attrTree(theirs, 32);
    const info = expected['18'] as Tree;
    expect(info['1']).toBe('76786c616e'); // iproute2 sends IFLA_INFO_KIND "vxlan" unterminated;
    info['1'] = '76786c616e00'; // we NUL-terminate every string (the kernel takes both)
    const data = info['2'] as Tree;
    data['13'] = '00'; // IFLA_VXLAN_L2MISS
    data['14'] = '00'; // IFLA_VXLAN_L3MISS
    expect(attrTree(ours, 32)).toEqual(expected);
    // iproute2 nests without NLA_F_NESTED; we set it, as strict kernel validation wants.
    expect(new DataView(ours.buffer).getUint16(ours.indexOf(0x76, 32) - 6, true)).toBe(0x8012);
  });
});

describe('rtnetlink replies, as the kernel sent them', () => {
  it('reads the vxlan link `ip -d link show` printed', () => {
    const msgs = parseMessages(KERNEL.DUMP_LINK, KERNEL.DUMP_LINK.length);
    expect(msgs).toHaveLength(1);
    const link = parseLink(msgs[0]!);
    // flannel.1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1400 ... link/ether 02:00:00:00:00:01
    //   vxlan id 1 local 198.18.0.1 dev eth0 srcport 0 0 dstport 8472 nolearning ... noudpcsum
    expect(link).toEqual({
      index: 5,
      name: 'flannel.1',
      flags: 0x11043, // IFF_UP|BROADCAST|RUNNING|MULTICAST|LOWER_UP
      mtu: 1400,
      mac: '02:00:00:00:00:01',
      kind: 'vxlan',
      vxlan: {
        vni: 1,
        local: ip(198, 18, 0, 1),
        group: 0,
        link: 3,
        port: 8472,
        learning: false,
        l2miss: false,
        l3miss: false,
        gbp: false,
        udpCsum: false,
      },
    });
  });

  it('reads the route `ip route show proto 77` printed', () => {
    const [msg] = parseMessages(KERNEL.DUMP_ROUTE, KERNEL.DUMP_ROUTE.length);
    // 10.244.3.0/24 via 10.244.3.0 dev flannel.1 proto 77 onlink
    expect(parseRoute(msg!)).toEqual({
      dst: ip(10, 244, 3, 0),
      dstLen: 24,
      gateway: ip(10, 244, 3, 0),
      oif: 5,
      table: 254,
      protocol: 77,
      scope: 0,
      type: 1,
      flags: 4,
    });
  });

  it('reads a neighbour dump of several messages and its DONE', () => {
    const msgs = parseMessages(KERNEL.DUMP_NEIGH, KERNEL.DUMP_NEIGH.length);
    expect(msgs.map((m) => m.type)).toEqual([28, 28, 28, 28, 3]);
    expect(isDone(msgs[4]!)).toBe(true);
    // 10.244.3.0 lladdr c6:d2:32:6f:8f:44 PERMANENT
    expect(parseNeigh(msgs[0]!)).toEqual({
      family: 2,
      ifindex: 5,
      state: 0x80,
      flags: 0,
      dst: ip(10, 244, 3, 0),
      lladdr: 'c6:d2:32:6f:8f:44',
    });
    // ff02::2 lladdr 33:33:00:00:00:02 NOARP: an IPv6 destination is no IPv4 dst
    expect(parseNeigh(msgs[1]!)).toEqual({
      family: 10,
      ifindex: 5,
      state: 0x40,
      flags: 0,
      lladdr: '33:33:00:00:00:02',
    });
  });

  it('reads the FDB entry `bridge fdb show` printed', () => {
    const [msg] = parseMessages(KERNEL.DUMP_FDB, KERNEL.DUMP_FDB.length);
    // c6:d2:32:6f:8f:44 dst 198.18.0.2 self permanent
    expect(parseNeigh(msg!)).toEqual({
      family: 7,
      ifindex: 5,
      state: 0xc0,
      flags: 0x02,
      dst: ip(198, 18, 0, 2),
      lladdr: 'c6:d2:32:6f:8f:44',
    });
  });

  it('reads an ACK and an error with its extended-ack text', () => {
    const [ack] = parseMessages(KERNEL.ACK, KERNEL.ACK.length);
    expect([isError(ack!), errorOf(ack!), ack!.seq]).toEqual([true, 0, seqOf(IPROUTE2.ROUTE_ONLINK)]);
    const [err] = parseMessages(KERNEL.ERROR_ENETDOWN, KERNEL.ERROR_ENETDOWN.length);
    expect([isError(err!), errorOf(err!)]).toEqual([true, 100]); // ENETDOWN
  });
});

/** Attributes as an order-free tree: type → payload hex, or → subtree for the types that nest. */
type Tree = { [type: string]: string | Tree };
/** Nesting types: IFLA_LINKINFO (18) and, inside it, IFLA_INFO_DATA (2). */
const NESTS: Record<string, readonly string[]> = { top: ['18'], '18': ['2'] };

/** An independent attribute walker (not codec.ts's): 4-byte TLVs, flags masked off the type. */
function attrTree(b: Uint8Array, off: number, end = b.length, level = 'top'): Tree {
  const v = new DataView(b.buffer, b.byteOffset);
  const out: Tree = {};
  while (off + 4 <= end) {
    const len = v.getUint16(off, true);
    const type = String(v.getUint16(off + 2, true) & 0x3fff);
    if (len < 4 || off + len > end) throw new Error(`bad attribute at ${off}`);
    out[type] = NESTS[level]?.includes(type)
      ? attrTree(b, off + 4, off + len, type)
      : hexOf(b.subarray(off + 4, off + len));
    off += (len + 3) & ~3;
  }
  return out;
}
