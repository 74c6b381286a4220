import { describe, expect, it } from 'vitest';
import { seededRandom } from '../../test/support/seeded-random.js';
import {
  attrIpv4,
  attrString,
  attrU16be,
  attrU32,
  encodeRequest,
  errorOf,
  findAttr,
  formatMac,
  ifinfomsg,
  ipv4Attr,
  macAt,
  isDone,
  isError,
  nestedAttr,
  parseAttrs,
  parseMac,
  parseMessages,
  stringAttr,
  u16Attr,
  u32Attr,
  u8Attr,
} from './codec.js';
import * as C from './constants.js';
import {
  addVxlanLink,
  parseLink,
  parseNeigh,
  parseRoute,
  replaceFdb,
  replaceNeigh,
  replaceRoute,
} from './objects.js';

const le32 = (b: Uint8Array, o: number) => new DataView(b.buffer, b.byteOffset).getUint32(o, true);
const le16 = (b: Uint8Array, o: number) => new DataView(b.buffer, b.byteOffset).getUint16(o, true);

describe('rtnetlink codec', () => {
  it('encodes the header, the family header and 4-byte aligned attributes', () => {
    const m = encodeRequest(
      {
        type: C.RTM_NEWLINK,
        flags: C.NLM_F_REQUEST | C.NLM_F_ACK,
        header: ifinfomsg(C.AF_UNSPEC, 7, 1, 1),
        attrs: [stringAttr(C.IFLA_IFNAME, 'eth0'), u32Attr(C.IFLA_MTU, 1450)],
      },
      42,
    );
    expect(m.length).toBe(16 + 16 + 12 + 8); // "eth0\0" pads to 8 + 4 header
    expect(le32(m, 0)).toBe(m.length);
    expect(le16(m, 4)).toBe(C.RTM_NEWLINK);
    expect(le16(m, 6)).toBe(C.NLM_F_REQUEST | C.NLM_F_ACK);
    expect(le32(m, 8)).toBe(42);
    expect(le32(m, 20)).toBe(7); // ifi_index
    expect(le16(m, 32)).toBe(9); // rta_len of "eth0\0"
    expect(le16(m, 34)).toBe(C.IFLA_IFNAME);
    expect(String.fromCharCode(...m.subarray(36, 40))).toBe('eth0');
    expect(le16(m, 44)).toBe(8);
    expect(le32(m, 48)).toBe(1450);
  });

  it('round-trips attributes of every kind, nested ones included', () => {
    const m = encodeRequest(
      {
        type: 1,
        flags: 0,
        header: new Uint8Array(4),
        attrs: [
          u8Attr(1, 7),
          u16Attr(2, 8472, true),
          u32Attr(3, 0xdeadbeef),
          ipv4Attr(4, 0xc6120001),
          stringAttr(5, 'flannel.1'),
          nestedAttr(6, [u32Attr(1, 5), stringAttr(2, 'x')]),
        ],
      },
      1,
    );
    const [msg] = parseMessages(m, m.length);
    const a = parseAttrs(msg!.body, 4);
    expect(a.get(1)![0]).toBe(7);
    expect(attrU16be(a.get(2))).toBe(8472);
    expect(attrU32(a.get(3))).toBe(0xdeadbeef);
    expect(attrIpv4(a.get(4))).toBe(0xc6120001);
    expect(attrString(a.get(5))).toBe('flannel.1');
    const nested = parseAttrs(a.get(6)!, 0);
    expect(attrU32(nested.get(1))).toBe(5);
    expect(attrString(nested.get(2))).toBe('x');
  });

  it('splits a datagram of several messages and reads errors, ACKs and DONE', () => {
    const rng = seededRandom();
    const ack = new Uint8Array(36);
    const v = new DataView(ack.buffer);
    v.setUint32(0, 36, true);
    v.setUint16(4, C.NLMSG_ERROR, true);
    v.setUint32(8, 5, true);
    v.setInt32(16, -17, true); // -EEXIST
    const done = new Uint8Array(20);
    new DataView(done.buffer).setUint32(0, 20, true);
    new DataView(done.buffer).setUint16(4, C.NLMSG_DONE, true);
    const both = new Uint8Array(56);
    both.set(ack);
    both.set(done, 36);
    const msgs = parseMessages(both, both.length);
    expect(msgs).toHaveLength(2);
    expect(isError(msgs[0]!)).toBe(true);
    expect(errorOf(msgs[0]!)).toBe(17);
    expect(msgs[0]!.seq).toBe(5);
    expect(isDone(msgs[1]!)).toBe(true);
    // truncated or garbage input never throws
    expect(parseMessages(both, 30)).toHaveLength(0);
    for (let i = 0; i < 2000; i++) {
      const junk = Uint8Array.from({ length: (rng.next() * 100) | 0 }, () => (rng.next() * 256) | 0);
      expect(
        () => parseMessages(junk, junk.length).forEach((m) => parseAttrs(m.body, 0)),
        rng.why,
      ).not.toThrow();
    }
  });

  it('formats and parses MACs', () => {
    expect(formatMac(parseMac('c6:d2:32:6f:8f:44'))).toBe('c6:d2:32:6f:8f:44');
    expect(parseMac('c6:d2:32:6f:8f')).toBeUndefined();
    expect(parseMac('zz:d2:32:6f:8f:44')).toBeUndefined();
  });
});

/** A request re-read as the kernel's dump reply would carry it (same layout for these types). */
const asReply = (req: ReturnType<typeof replaceRoute>) => {
  const m = encodeRequest(req, 1);
  return parseMessages(m, m.length)[0]!;
};

describe('rtnetlink objects', () => {
  it("encodes flannel's vxlan link and parses it back", () => {
    const req = addVxlanLink('flannel.1', parseMac('02:00:00:00:00:01')!, 1450, {
      vni: 1,
      local: 0xc6120001,
      link: 2,
      port: 8472,
      learning: false,
      gbp: false,
    });
    expect(req.flags & C.NLM_F_CREATE).toBeTruthy();
    const link = parseLink(asReply(req));
    expect(link).toMatchObject({ name: 'flannel.1', mtu: 1450, mac: '02:00:00:00:00:01', kind: 'vxlan' });
    expect(link!.vxlan).toMatchObject({
      vni: 1,
      local: 0xc6120001,
      link: 2,
      port: 8472,
      learning: false,
      l2miss: false,
      l3miss: false,
      gbp: false,
      udpCsum: false,
    });
  });

  it('encodes an onlink route via the peer subnet and parses it back', () => {
    const r = parseRoute(
      asReply(
        replaceRoute({
          dst: 0x0af40300,
          dstLen: 24,
          gateway: 0x0af40300,
          oif: 3,
          onlink: true,
          protocol: 77,
        }),
      ),
    );
    expect(r).toMatchObject({
      dst: 0x0af40300,
      dstLen: 24,
      gateway: 0x0af40300,
      oif: 3,
      protocol: 77,
      table: C.RT_TABLE_MAIN,
      flags: C.RTNH_F_ONLINK,
      scope: C.RT_SCOPE_UNIVERSE,
    });
    const direct = parseRoute(asReply(replaceRoute({ dst: 0x0af40300, dstLen: 24, oif: 3, protocol: 77 })));
    expect(direct!.scope).toBe(C.RT_SCOPE_LINK);
  });

  it('encodes permanent neighbour and FDB entries', () => {
    const n = parseNeigh(asReply(replaceNeigh(3, 0x0af40300, parseMac('c6:d2:32:6f:8f:44')!)));
    expect(n).toMatchObject({
      family: C.AF_INET,
      ifindex: 3,
      state: C.NUD_PERMANENT,
      dst: 0x0af40300,
      lladdr: 'c6:d2:32:6f:8f:44',
    });
    const f = parseNeigh(asReply(replaceFdb(3, parseMac('c6:d2:32:6f:8f:44')!, 0xc6120002)));
    expect(f).toMatchObject({
      family: C.AF_BRIDGE,
      ifindex: 3,
      state: C.NUD_PERMANENT,
      flags: C.NTF_SELF,
      dst: 0xc6120002,
      lladdr: 'c6:d2:32:6f:8f:44',
    });
  });

  it('finds attributes without allocating, and stops at a malformed one', () => {
    const len = new Int32Array(1);
    // Two attributes: type 1 (u32 7), type 8 (6-byte MAC), then one claiming more bytes than exist.
    const body = Uint8Array.from([
      8, 0, 1, 0, 7, 0, 0, 0, 10, 0, 8, 0, 0xc6, 0xd2, 0x32, 0x6f, 0x8f, 0x44, 0, 0, 40, 0, 9, 0,
    ]);
    expect(findAttr(body, 0, 1, len)).toBe(4);
    expect(len[0]).toBe(4);
    const mac = findAttr(body, 0, 8, len);
    expect([mac, len[0]]).toEqual([12, 6]);
    expect(macAt(body, mac)).toBe('c6:d2:32:6f:8f:44');
    expect(findAttr(body, 0, 9, len)).toBe(-1); // overruns the body
    expect(findAttr(body, 0, 5, len)).toBe(-1); // absent
    expect(findAttr(Uint8Array.from([2, 0, 1, 0, 8, 0, 5, 0]), 0, 5, len)).toBe(-1); // length < 4
  });
});
