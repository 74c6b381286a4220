/**
 * The IPv6 objects (objects6.ts) against bytes they did not produce: the requests iproute2 sent
 * for the same v6 routes, neighbours, FDB entries, /128 address and vxlan-over-IPv6 device, and
 * the kernel's replies to dumps of them (test/support/rtnetlink-captures6.ts says how they were
 * captured). Expected values are literals read off `ip -6 route show` & co, not constants.ts, so
 * a wrong constant fails here too. Where we knowingly differ from iproute2 (a field the kernel
 * ignores, an attribute it does not need), the test says so and patches only that field.
 */
import { describe, expect, it } from 'vitest';
import { parseIpv6 } from '../../core/ipv6.js';
import { IPROUTE2_6, KERNEL_6 } from '../../test/support/rtnetlink-captures6.js';
import { encodeRequest, isDone, parseMac, parseMessages, type Request } from './codec.js';
import { parseLink } from './objects.js';
import {
  addAddr6,
  addVxlanLink6,
  deleteAddr6,
  deleteFdb6,
  deleteNeigh6,
  deleteRoute6,
  getRoute6,
  parseAddr6,
  parseNeigh6,
  parseRoute6,
  replaceFdb6,
  replaceNeigh6,
  replaceRoute6,
} from './objects6.js';

const v6 = (s: string): bigint => {
  const ip = parseIpv6(s);
  if (ip === undefined) throw new Error(`bad test address ${s}`);
  return ip;
};
const seqOf = (m: Uint8Array): number => new DataView(m.buffer, m.byteOffset).getUint32(8, true);
/** What NetlinkSocket puts on the wire for a request: its flags plus NLM_F_REQUEST|NLM_F_ACK. */
const wire = (req: Request, seq: number): Uint8Array =>
  encodeRequest({ ...req, flags: req.flags | 0x1 | 0x4 }, seq);
/** A get (route get) carries no ACK flag: the reply is the answer. */
const wireGet = (req: Request, seq: number): Uint8Array =>
  encodeRequest({ ...req, flags: req.flags | 0x1 }, seq);
const hexOf = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const same = (ours: Uint8Array, theirs: Uint8Array): void => expect(hexOf(ours)).toBe(hexOf(theirs));
/** A copy of `b` with the byte at `at` (an offset into the message) replaced, after checking it. */
function patched(b: Uint8Array, at: number, was: number, now: number): Uint8Array {
  const c = b.slice();
  expect(c[at]).toBe(was);
  c[at] = now;
  return c;
}

const MAC = parseMac('c6:d2:32:6f:8f:44')!;
const ETH0 = 3;
const FLANNEL_V6_1 = 4;
/** Offsets into a message: nlmsghdr is 16 bytes, then the family header. */
const HDR = 16;

describe('IPv6 rtnetlink requests, byte for byte as iproute2 sends them', () => {
  it("vxlan's onlink route via the peer's v6 subnet address", () => {
    const route = {
      dst: v6('fd00:10:244:3::'),
      dstLen: 64,
      gateway: v6('fd00:10:244:3::'),
      oif: FLANNEL_V6_1,
      onlink: true,
      protocol: 77,
    };
    same(wire(replaceRoute6(route), seqOf(IPROUTE2_6.ROUTE6_ONLINK)), IPROUTE2_6.ROUTE6_ONLINK);
  });

  it("host-gw's route via the peer's PublicIPv6, and its deletion", () => {
    const route = {
      dst: v6('fd00:10:244:4::'),
      dstLen: 64,
      gateway: v6('fd00:198:18::2'),
      oif: ETH0,
      protocol: 77,
    };
    same(wire(replaceRoute6(route), seqOf(IPROUTE2_6.ROUTE6_HOSTGW)), IPROUTE2_6.ROUTE6_HOSTGW);
    // iproute2 deletes with rtm_type RTN_UNSPEC (0); we send RTN_UNICAST (1), the type the route
    // was added with, which the kernel matches as well (fib6 ignores the type on delete).
    const theirs = patched(IPROUTE2_6.ROUTE6_DEL, HDR + 7, 0, 1);
    same(wire(deleteRoute6(route), seqOf(IPROUTE2_6.ROUTE6_DEL)), theirs);
  });

  it('the /128 subnet address on flannel-v6.1', () => {
    const ip = v6('fd00:10:244:1::');
    same(wire(addAddr6(FLANNEL_V6_1, ip, 128), seqOf(IPROUTE2_6.ADDR6_ADD)), IPROUTE2_6.ADDR6_ADD);
    // Deleting, iproute2 sends IFA_ADDRESS beside IFA_LOCAL (its last 20 bytes); the kernel finds
    // an IPv6 address by IFA_LOCAL alone, so we send that one.
    const theirs = IPROUTE2_6.ADDR6_DEL;
    expect(hexOf(theirs.subarray(theirs.length - 20, theirs.length - 16))).toBe('14000100'); // IFA_ADDRESS
    const trimmed = theirs.slice(0, theirs.length - 20);
    new DataView(trimmed.buffer).setUint32(0, trimmed.length, true);
    same(wire(deleteAddr6(FLANNEL_V6_1, ip, 128), seqOf(theirs)), trimmed);
  });

  it('a permanent NDP neighbour: as iproute2 but for ndm_type, which flannel sets to RTN_UNICAST', () => {
    const ip = v6('fd00:10:244:3::');
    const theirs = patched(IPROUTE2_6.NEIGH6_REPLACE, HDR + 11, 0, 1);
    same(wire(replaceNeigh6(FLANNEL_V6_1, ip, MAC), seqOf(theirs)), theirs);
    // iproute2 deletes with ndm_state NUD_PERMANENT; the kernel ignores the state on delete.
    const del = patched(IPROUTE2_6.NEIGH6_DEL, HDR + 8, 0x80, 0);
    same(wire(deleteNeigh6(FLANNEL_V6_1, ip), seqOf(del)), del);
  });

  it('a vxlan FDB entry toward a PublicIPv6: as iproute2 but for the state, NUD_PERMANENT alone', () => {
    const dst = v6('fd00:198:18::2');
    // iproute2's "permanent" is NUD_PERMANENT|NUD_NOARP (0xc0); flannel sends NUD_PERMANENT.
    const theirs = patched(IPROUTE2_6.FDB6_REPLACE, HDR + 8, 0xc0, 0x80);
    same(wire(replaceFdb6(FLANNEL_V6_1, MAC, dst), seqOf(theirs)), theirs);
    // On delete iproute2 sends the same state; the vxlan driver ignores it.
    const del = patched(IPROUTE2_6.FDB6_DEL, HDR + 8, 0xc0, 0);
    same(wire(deleteFdb6(FLANNEL_V6_1, MAC, dst), seqOf(del)), del);
  });

  it('route get for a PublicIPv6 (the DirectRouting check)', () => {
    const theirs = IPROUTE2_6.ROUTE6_GET;
    same(wireGet(getRoute6(v6('fd00:198:18::2')), seqOf(theirs)), theirs);
  });

  it('flannel-v6.1: the same attributes as iproute2, plus explicit l2miss/l3miss off', () => {
    const req = addVxlanLink6('flannel-v6.1', parseMac('02:00:00:00:00:01')!, 1430, {
      vni: 1,
      local6: v6('fd00:198:18::1'),
      link: ETH0,
      port: 8472,
      learning: false,
      gbp: false,
    });
    const theirs = IPROUTE2_6.VXLAN6_ADD;
    const ours = wire(req, seqOf(theirs));
    // Same type, flags (REQUEST|ACK|EXCL|CREATE), seq and ifinfomsg; attribute order differs
    // (the kernel parses attributes by type), so they are compared as trees.
    same(ours.subarray(4, 32), theirs.subarray(4, 32));
    const expected = attrTree(theirs, 32);
    const info = expected['18'] as Tree;
    expect(info['1']).toBe('76786c616e'); // iproute2 sends IFLA_INFO_KIND "vxlan" unterminated
    info['1'] = '76786c616e00';
    const data = info['2'] as Tree;
    expect(data['17']).toBe('fd000198001800000000000000000001'); // IFLA_VXLAN_LOCAL6
    expect(data['15']).toBe('2118'); // IFLA_VXLAN_PORT 8472, network order
    data['13'] = '00'; // IFLA_VXLAN_L2MISS
    data['14'] = '00'; // IFLA_VXLAN_L3MISS
    expect(attrTree(ours, 32)).toEqual(expected);
  });
});

describe('IPv6 rtnetlink replies, as the kernel sent them', () => {
  it('reads the routes `ip -6 route show proto 77` printed, then DONE', () => {
    const msgs = parseMessages(KERNEL_6.DUMP6_ROUTE, KERNEL_6.DUMP6_ROUTE.length);
    expect(msgs).toHaveLength(3);
    expect(isDone(msgs[2]!)).toBe(true);
    // fd00:10:244:3::/64 via fd00:10:244:3:: dev flannel-v6.1 proto 77 metric 1024 onlink
    expect(parseRoute6(msgs[0]!)).toEqual({
      dst: v6('fd00:10:244:3::'),
      dstLen: 64,
      gateway: v6('fd00:10:244:3::'),
      oif: 4,
      table: 254,
      protocol: 77,
      onlink: true,
    });
    // fd00:10:244:4::/64 via fd00:198:18::2 dev eth0 proto 77 metric 1024
    expect(parseRoute6(msgs[1]!)).toEqual({
      dst: v6('fd00:10:244:4::'),
      dstLen: 64,
      gateway: v6('fd00:198:18::2'),
      oif: 3,
      table: 254,
      protocol: 77,
    });
  });

  it('reads the permanent neighbour beside the multicast entry the kernel adds', () => {
    const msgs = parseMessages(KERNEL_6.DUMP6_NEIGH, KERNEL_6.DUMP6_NEIGH.length);
    expect(msgs.map((m) => m.type)).toEqual([28, 28, 3]);
    // The kernel's order within a dump is its hash order, not ours to rely on.
    const entries = msgs.slice(0, 2).map(parseNeigh6);
    // fd00:10:244:3:: lladdr c6:d2:32:6f:8f:44 PERMANENT
    expect(entries).toContainEqual({
      family: 10,
      ifindex: 4,
      state: 0x80,
      dst: v6('fd00:10:244:3::'),
      lladdr: 'c6:d2:32:6f:8f:44',
    });
    // ff02::16 lladdr 33:33:00:00:00:16 NOARP
    expect(entries).toContainEqual({
      family: 10,
      ifindex: 4,
      state: 0x40,
      dst: v6('ff02::16'),
      lladdr: '33:33:00:00:00:16',
    });
  });

  it('reads the FDB entry `bridge fdb show` printed', () => {
    const msgs = parseMessages(KERNEL_6.DUMP6_FDB, KERNEL_6.DUMP6_FDB.length);
    expect(isDone(msgs[1]!)).toBe(true);
    // c6:d2:32:6f:8f:44 dst fd00:198:18::2 self permanent
    expect(parseNeigh6(msgs[0]!)).toEqual({
      family: 7,
      ifindex: 4,
      state: 0xc0,
      dst: v6('fd00:198:18::2'),
      lladdr: 'c6:d2:32:6f:8f:44',
    });
  });

  it('reads the vxlan-over-IPv6 link `ip -d link show` printed', () => {
    const [msg] = parseMessages(KERNEL_6.DUMP6_LINK, KERNEL_6.DUMP6_LINK.length);
    const link = parseLink(msg!);
    // flannel-v6.1: <BROADCAST,MULTICAST,UP,LOWER_UP> mtu 1430 link/ether 02:00:00:00:00:01
    //   vxlan id 1 local fd00:198:18::1 dev eth0 srcport 0 0 dstport 8472 nolearning udpcsum
    expect(link).toMatchObject({ index: 4, name: 'flannel-v6.1', mtu: 1430, mac: '02:00:00:00:00:01' });
    expect(link!.kind).toBe('vxlan');
    expect(link!.vxlan).toMatchObject({
      vni: 1,
      local6: v6('fd00:198:18::1'),
      link: 3,
      port: 8472,
      learning: false,
      l2miss: false,
      l3miss: false,
      gbp: false,
    });
  });

  it('reads the /128 address `ip -6 addr show` printed', () => {
    const msgs = parseMessages(KERNEL_6.DUMP6_ADDR, KERNEL_6.DUMP6_ADDR.length);
    const addrs = msgs.map(parseAddr6).filter((a) => a !== undefined);
    // inet6 fd00:10:244:1::/128 scope global, and the link-local fe80::… /64 the kernel adds
    expect(addrs).toContainEqual({ index: 4, prefixLen: 128, local: v6('fd00:10:244:1::') });
    expect(addrs.every((a) => a.index === 4)).toBe(true);
  });

  it('reads the route get reply for a PublicIPv6 on our L2: no gateway (DirectRouting applies)', () => {
    const [msg] = parseMessages(KERNEL_6.ROUTE6_GET, KERNEL_6.ROUTE6_GET.length);
    const r = parseRoute6(msg!);
    // fd00:198:18::2 from :: dev eth0 proto kernel src fd00:198:18::1 metric 256
    expect(r).toMatchObject({ dst: v6('fd00:198:18::2'), dstLen: 128, oif: 3 });
    expect(r!.gateway).toBeUndefined();
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
