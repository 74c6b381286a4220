/**
 * The udp engines as IPv6 engines (family 6) on the VXLAN wire with EtherType 86DD — the userspace
 * flannel-v6.<VNI> — back to back over an in-memory IPv6 network, against a frame the kernel's
 * flannel-v6.1 sent (test/support/kernel-vxlan-frame6.ts): the bytes we send for the same inner
 * packet, the frame delivered, and one test per receive check (each its own drop reason).
 */
import { describe, expect, it } from 'vitest';
import { parseCidr6, parseIpv6 } from '../../../core/ipv6.js';
import { wordsOf6 } from '../../../core/ipv6-words.js';
import { readU16, writeU16 } from '../../packet/checksum.js';
import { pseudoHeaderSum6 } from '../../packet/partial-checksum6.js';
import { newVnetHdr, VNET_F_NEEDS_CSUM, VNET_HDR_LEN } from '../../packet/vnet-hdr.js';
import { vxlanEngines, withVnet } from '../../../test/support/vxlan-engines.js';
import { C, dropIndex, reasonIndex, type DropReason } from '../counters.js';
import { MemoryNetwork6, MemoryUdp6 } from '../../../test/support/memory-io.js';
import {
  KERNEL_PAYLOAD6,
  RECEIVER_MAC6,
  RECEIVER_PUBLIC6,
  SENDER_MAC6,
  SENDER_PORT6,
  SENDER_PUBLIC6,
} from '../../../test/support/kernel-vxlan-frame6.js';
import type { PeerEntry } from '../peer-table.js';
import { ETHERTYPE_IPV4, ETHERTYPE_IPV6, macWords, VxlanWire } from './vxlan-wire.js';
import { randomBytes } from '../../../test/support/test-packets.js';
import { makeUdp6 } from '../../../test/support/test-packets6.js';

const w6 = (s: string): Uint32Array => Uint32Array.from(wordsOf6(parseIpv6(s)!));
const PORT = 8472;
const MTU = 1430;
const KERNEL = (): Uint8Array => Uint8Array.from(Buffer.from(KERNEL_PAYLOAD6, 'hex'));
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function node(
  netw: MemoryNetwork6,
  publicIp: string,
  subnet: string,
  mac: Uint8Array,
  vnet: boolean,
  sg: boolean,
) {
  const udp = new MemoryUdp6(netw, w6(publicIp), PORT);
  const engines = vxlanEngines(udp, new VxlanWire(1, mac, ETHERTYPE_IPV6), { vnet, sg, mtu: MTU, family: 6 });
  const own = parseCidr6(subnet)!;
  return { ...engines, udp, own, publicIp: w6(publicIp), mac };
}
type Node = ReturnType<typeof node>;

const entry = (n: Node): PeerEntry => ({
  subnetIp: 0,
  prefixLen: 0,
  publicIp: 0,
  port: PORT,
  ...macWords(n.mac),
  publicIp6: n.publicIp,
  subnetIp6: Uint32Array.from(wordsOf6(n.own.ip)),
  prefixLen6: n.own.prefixLen,
});
const own6 = (n: Node) => ({ ip: wordsOf6(n.own.ip), prefixLen: n.own.prefixLen });

/** a = the capture's sender (fd00:10:244:1::/64), b = its receiver (fd00:10:244:2::/64). */
function pair(vnet = false, sg = false) {
  const netw = new MemoryNetwork6();
  const a = node(netw, SENDER_PUBLIC6, 'fd00:10:244:1::/64', SENDER_MAC6, vnet, sg);
  const b = node(netw, RECEIVER_PUBLIC6, 'fd00:10:244:2::/64', RECEIVER_MAC6, vnet, sg);
  a.table.publish(undefined, [entry(b)], own6(a));
  b.table.publish(undefined, [entry(a)], own6(b));
  return { a, b };
}

const rxDropped = (n: Node, r: DropReason): number => n.counters[dropIndex('rx', reasonIndex(r))]!;
const txDropped = (n: Node, r: DropReason): number => n.counters[dropIndex('tx', reasonIndex(r))]!;

/** The inner packet of the kernel's frame. */
const kernelInner = (): Uint8Array => KERNEL().subarray(22);

describe('the VXLAN wire with EtherType 86DD (flannel-v6.<VNI>)', () => {
  it('accepts the kernel flannel-v6.1 frame and writes the same 22 header bytes', () => {
    const frame = KERNEL();
    expect(new VxlanWire(1, RECEIVER_MAC6, ETHERTYPE_IPV6).decapsulate(frame, 0, frame.length)).toBe(-1);
    const out = new Uint8Array(22);
    new VxlanWire(1, SENDER_MAC6, ETHERTYPE_IPV6).encapsulate(out, 0, {
      subnetIp: 0,
      prefixLen: 0,
      publicIp: 0,
      port: PORT,
      ...macWords(RECEIVER_MAC6),
    });
    expect(hex(out)).toBe(hex(frame.subarray(0, 22)));
    // The v4 device's wire drops the same frame: its EtherType is not IPv4.
    expect(new VxlanWire(1, RECEIVER_MAC6, ETHERTYPE_IPV4).decapsulate(frame, 0, frame.length)).toBe(
      reasonIndex('bad_ethertype'),
    );
    expect(() => new VxlanWire(1, RECEIVER_MAC6, 0x0806 as typeof ETHERTYPE_IPV4)).toThrow(
      /0x0800 or 0x86dd, got 0x806/,
    );
  });
});

for (const { vnet, sg, name } of [
  { vnet: false, sg: false, name: 'offloads off' },
  { vnet: true, sg: false, name: 'offloads on, copying' },
  { vnet: true, sg: true, name: 'offloads on, scatter-gather' },
])
  describe(`IPv6 engines on the VXLAN wire (${name})`, () => {
    it('sends the inner packet the kernel sent as the kernel sent it, to the peer by its PublicIPv6', () => {
      const { a, b } = pair(vnet, sg);
      const inner = kernelInner().slice();
      inner[7] = 65; // one hop more: the engine forwards (decrements), the kernel originated it
      a.tun.toEngine.push(vnet ? withVnet(inner) : inner);
      while (a.tx.step(0) > 0);
      expect(b.udp.inbox).toHaveLength(1);
      expect(hex(b.udp.inbox[0]!.data)).toBe(KERNEL_PAYLOAD6);
      expect([...b.udp.inbox[0]!.from]).toEqual([...w6(SENDER_PUBLIC6)]);
      expect(a.counters[C.txPackets]).toBe(1);
    });

    it('delivers the frame a kernel flannel-v6.1 sent, from its per-flow port, with the hop limit decremented', () => {
      const { b } = pair(vnet, sg);
      b.udp.inject(w6(SENDER_PUBLIC6), SENDER_PORT6, KERNEL());
      while (b.rx.step(0) > 0);
      expect(b.tun.fromEngine).toHaveLength(1);
      const got = b.tun.fromEngine[0]!.subarray(vnet ? VNET_HDR_LEN : 0);
      const want = kernelInner().slice();
      want[7] = 63;
      expect(hex(got)).toBe(hex(want));
      expect(b.counters[C.rxPackets]).toBe(1);
    });

    it('carries 70 packets of every size both ways intact, and completes a partial inner checksum', () => {
      const { a, b } = pair(vnet, sg);
      const sent = Array.from({ length: 70 }, (_, i) =>
        makeUdp6('fd00:10:244:1::5', 'fd00:10:244:2::9', randomBytes(1 + i * 19)),
      );
      for (const p of sent) a.tun.toEngine.push(vnet ? withVnet(p) : p);
      while (a.tx.step(0) > 0);
      expect(b.udp.inbox).toHaveLength(70);
      while (b.rx.step(0) > 0);
      const got = b.tun.fromEngine.map((p) => p.subarray(vnet ? VNET_HDR_LEN : 0));
      expect(got).toHaveLength(70);
      for (let i = 0; i < 70; i++) {
        expect(got[i]![7]).toBe(62);
        expect(hex(got[i]!.subarray(8))).toBe(hex(sent[i]!.subarray(8)));
      }
      // b → a: a partial UDP checksum (the pseudo-header sum, as a kernel peer over a veth leaves it).
      const p = makeUdp6('fd00:10:244:2::9', 'fd00:10:244:1::5', randomBytes(333));
      const good = readU16(p, 46);
      writeU16(p, 46, pseudoHeaderSum6(p, 0, 17, 8 + 333));
      b.tun.toEngine.push(vnet ? withVnet(p) : p);
      while (b.tx.step(0) > 0);
      while (a.rx.step(0) > 0);
      expect(a.tun.fromEngine).toHaveLength(1);
      expect(readU16(a.tun.fromEngine[0]!, (vnet ? VNET_HDR_LEN : 0) + 46)).toBe(good);
      expect(a.counters[C.rxChecksumsCompleted]).toBe(1);
    });
  });

describe('IPv6 engine: what the TUN side refuses', () => {
  it('completes a NEEDS_CSUM packet from the TUN, and drops a TSO6 one (never enabled)', () => {
    const { a, b } = pair(true, false);
    const p = makeUdp6('fd00:10:244:1::5', 'fd00:10:244:2::9', randomBytes(100));
    const good = readU16(p, 46);
    writeU16(p, 46, pseudoHeaderSum6(p, 0, 17, 108));
    const h = newVnetHdr();
    Object.assign(h, { flags: VNET_F_NEEDS_CSUM, csumStart: 40, csumOffset: 6 });
    a.tun.toEngine.push(withVnet(p, h));
    const tso = newVnetHdr();
    Object.assign(tso, { gsoType: 4 /* TCPV6 */, gsoSize: 1000, hdrLen: 60 });
    a.tun.toEngine.push(withVnet(makeUdp6('fd00:10:244:1::5', 'fd00:10:244:2::9', randomBytes(10)), tso));
    while (a.tx.step(0) > 0);
    expect(b.udp.inbox).toHaveLength(1);
    expect(readU16(b.udp.inbox[0]!.data, 22 + 46)).toBe(good);
    expect(txDropped(a, 'bad_vnet_header')).toBe(1);
  });

  it('counts no_route, not_ipv6, too_short and ttl_expired without sending anything', () => {
    const { a, b } = pair();
    a.tun.toEngine.push(makeUdp6('fd00:10:244:1::5', 'fd00:10:244:9::9', randomBytes(8))); // no peer
    const v4 = new Uint8Array(40);
    v4[0] = 0x45;
    a.tun.toEngine.push(v4);
    a.tun.toEngine.push(new Uint8Array(39).fill(0x60));
    a.tun.toEngine.push(makeUdp6('fd00:10:244:1::5', 'fd00:10:244:2::9', randomBytes(8), 1));
    while (a.tx.step(0) > 0);
    expect(b.udp.inbox).toHaveLength(0);
    expect([
      txDropped(a, 'no_route'),
      txDropped(a, 'not_ipv6'),
      txDropped(a, 'too_short'),
      txDropped(a, 'ttl_expired'),
    ]).toEqual([1, 1, 1, 1]);
  });
});

describe('IPv6 engine: receive checks, one drop reason each', () => {
  /** b receives `frame` (22-byte header + inner) from `from`, and must drop it for `reason`. */
  function dropsFor(
    reason: DropReason,
    mutate: (frame: Uint8Array) => Uint8Array,
    from = SENDER_PUBLIC6,
  ): void {
    const { b } = pair();
    b.udp.inject(w6(from), SENDER_PORT6, mutate(KERNEL()));
    while (b.rx.step(0) > 0);
    expect(b.tun.fromEngine, reason).toHaveLength(0);
    expect(rxDropped(b, reason), reason).toBe(1);
    expect(b.counters[C.rxPackets]).toBe(0);
  }
  /** The frame with its inner packet replaced (the 22-byte header kept). */
  const withInner = (inner: Uint8Array) => (f: Uint8Array) => {
    const out = new Uint8Array(22 + inner.length);
    out.set(f.subarray(0, 22));
    out.set(inner, 22);
    return out;
  };
  const udp = (src: string, dst: string, hops = 64) => makeUdp6(src, dst, randomBytes(20), hops);

  it('unknown_sender: a PublicIPv6 no peer has (one word off)', () =>
    dropsFor('unknown_sender', (f) => f, 'fd00:198:18:77::3'));
  it('unknown_sender: the peer PublicIPv6 with a different top word', () =>
    dropsFor('unknown_sender', (f) => f, 'fd01:198:18:77::1'));
  it('truncated: shorter than the VXLAN and Ethernet headers', () =>
    dropsFor('truncated', (f) => f.slice(0, 21)));
  it('bad_vxlan_flags: a reserved bit set', () =>
    dropsFor('bad_vxlan_flags', (f) => {
      f[1] = 0x01;
      return f;
    }));
  it('wrong_vni: VNI 2', () =>
    dropsFor('wrong_vni', (f) => {
      f[6] = 2;
      return f;
    }));
  it('foreign_mac: the inner destination is not our v6 VtepMAC', () =>
    dropsFor('foreign_mac', (f) => {
      f[13] ^= 1;
      return f;
    }));
  it('bad_ethertype: an IPv4 frame on the IPv6 device', () =>
    dropsFor('bad_ethertype', (f) => {
      f[20] = 0x08;
      f[21] = 0x00;
      return f;
    }));
  it('not_ipv6: EtherType 86DD with a version-4 packet', () =>
    dropsFor('not_ipv6', (f) => {
      f[22] = 0x45;
      return f;
    }));
  it('too_short: fewer than 40 inner bytes', () => dropsFor('too_short', (f) => f.slice(0, 22 + 39)));
  it('bad_length: payload length not the bytes after the header', () =>
    dropsFor('bad_length', (f) => {
      f[22 + 5] += 1;
      return f;
    }));
  it('bad_length: trailing bytes after the payload', () =>
    dropsFor('bad_length', (f) => {
      const out = new Uint8Array(f.length + 4);
      out.set(f);
      return out;
    }));
  it("spoofed_source: an inner source outside the sender's IPv6 subnet", () =>
    dropsFor('spoofed_source', withInner(udp('fd00:10:244:3::5', 'fd00:10:244:2::9'))));
  it('wrong_destination: an inner destination outside our IPv6 subnet', () =>
    dropsFor('wrong_destination', withInner(udp('fd00:10:244:1::5', 'fd00:10:244:3::9'))));
  it('ttl_expired: hop limit 1', () =>
    dropsFor('ttl_expired', withInner(udp('fd00:10:244:1::5', 'fd00:10:244:2::9', 1))));
  it('oversized: an inner packet larger than the TUN MTU', () =>
    dropsFor('oversized', withInner(makeUdp6('fd00:10:244:1::5', 'fd00:10:244:2::9', randomBytes(MTU)))));

  it('a sender with two leases may speak for both subnets, and only those', () => {
    const { a, b } = pair();
    const second = { ...entry(a), subnetIp6: w6('fd00:10:244:7::'), prefixLen6: 64 };
    b.table.publish(undefined, [entry(a), second], own6(b));
    for (const src of ['fd00:10:244:1::5', 'fd00:10:244:7::5', 'fd00:10:244:8::5'])
      b.udp.inject(w6(SENDER_PUBLIC6), 1, withInner(udp(src, 'fd00:10:244:2::9'))(KERNEL()));
    while (b.rx.step(0) > 0);
    expect(b.tun.fromEngine).toHaveLength(2);
    expect(rxDropped(b, 'spoofed_source')).toBe(1);
  });
});
