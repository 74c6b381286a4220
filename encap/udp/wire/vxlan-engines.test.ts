/**
 * The udp engines with the VXLAN wire, back to back over an in-memory network: what goes on the
 * wire, GSO/GRO and scatter-gather with the 22-byte header per segment, a kernel-sent frame, and
 * the receive checks the engine adds to the wire's (sender, inner source and destination).
 */
import { describe, expect, it } from 'vitest';
import { parseCidr, parseIpv4 } from '../../../core/ipv4.js';
import { sum16, writeU16 } from '../../packet/checksum.js';
import { checkIpv4, Verdict } from '../../packet/ipv4-packet.js';
import { makeTcp4, makeUdp4, randomBytes, tcpChecksumOk } from '../../../test/support/test-packets.js';
import { GSO_TCPV4, VNET_F_NEEDS_CSUM, VNET_HDR_LEN, newVnetHdr } from '../../packet/vnet-hdr.js';
import { vxlanEngines, withVnet } from '../../../test/support/vxlan-engines.js';
import { C, dropIndex, reasonIndex, type DropReason } from '../counters.js';
import { MemoryNetwork, MemoryUdp } from '../../../test/support/memory-io.js';
import { macWords, VxlanWire } from './vxlan-wire.js';
import { KERNEL_PAYLOAD, RECEIVER_MAC, SENDER_MAC } from '../../../test/support/kernel-vxlan-frame.js';

const ip = (s: string): number => parseIpv4(s)!;
const PORT = 8472;
const VNI = 1;
const MTU = 1450;

function node(
  netw: MemoryNetwork,
  publicIp: string,
  subnet: string,
  mac: Uint8Array,
  vnet: boolean,
  sg: boolean,
) {
  const udp = new MemoryUdp(netw, ip(publicIp), PORT, vnet);
  const engines = vxlanEngines(udp, new VxlanWire(VNI, mac), { vnet, sg, mtu: MTU });
  return { ...engines, udp, own: parseCidr(subnet)!, publicIp: ip(publicIp), mac };
}
type Node = ReturnType<typeof node>;

const entry = (n: Node) => ({
  subnetIp: n.own.ip,
  prefixLen: 24,
  publicIp: n.publicIp,
  port: PORT,
  ...macWords(n.mac),
});

/** a = the capture's sender (198.18.77.1, 10.244.1.0/24), b = its receiver (198.18.77.2, 10.244.2.0/24). */
function pair(vnet: boolean, sg: boolean) {
  const netw = new MemoryNetwork();
  const a = node(netw, '198.18.77.1', '10.244.1.0/24', SENDER_MAC, vnet, sg);
  const b = node(netw, '198.18.77.2', '10.244.2.0/24', RECEIVER_MAC, vnet, sg);
  a.table.publish(a.own, [entry(b)]);
  b.table.publish(b.own, [entry(a)]);
  return { a, b };
}

const dropped = (n: Node, r: DropReason): number => n.counters[dropIndex('rx', reasonIndex(r))]!;
const HEADER = KERNEL_PAYLOAD.slice(0, 44); // a → b: the header the kernel wrote
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const tunOut = (n: Node, vnet: boolean): Uint8Array[] =>
  n.tun.fromEngine.map((p) => (vnet ? p.subarray(VNET_HDR_LEN) : p));

function tso(payload: Uint8Array, mss: number): Uint8Array {
  const pkt = makeTcp4({ src: ip('10.244.1.5'), dst: ip('10.244.2.9'), seq: 1, flags: 0x18, payload });
  writeU16(pkt, 36, sum16(pkt, 12, 8, 6 + (pkt.length - 20)));
  const h = newVnetHdr();
  Object.assign(h, { flags: VNET_F_NEEDS_CSUM, gsoType: GSO_TCPV4, hdrLen: 40, gsoSize: mss });
  Object.assign(h, { csumStart: 20, csumOffset: 16 });
  return withVnet(pkt, h);
}

const VARIANTS = [
  { vnet: false, sg: false, name: 'offloads off' },
  { vnet: true, sg: false, name: 'offloads on, copying' },
  { vnet: true, sg: true, name: 'offloads on, scatter-gather' },
];
for (const { vnet, sg, name } of VARIANTS)
  describe(`engines on the VXLAN wire (${name})`, () => {
    it('sends each packet behind the header Linux writes, and delivers it with only the TTL changed', () => {
      const { a, b } = pair(vnet, sg);
      const sent = Array.from({ length: 70 }, (_, i) =>
        makeUdp4(ip('10.244.1.5'), ip('10.244.2.9'), randomBytes(1 + i * 20)),
      );
      for (const p of sent) a.tun.toEngine.push(vnet ? withVnet(p) : p);
      while (a.tx.step(0) > 0);
      const wire = b.udp.inbox.map((d) => d.data);
      expect(wire).toHaveLength(70);
      for (let i = 0; i < 70; i++) {
        expect(hex(wire[i]!.subarray(0, 22))).toBe(HEADER);
        expect(wire[i]!.length).toBe(22 + sent[i]!.length);
        expect(hex(wire[i]!.subarray(22 + 28))).toBe(hex(sent[i]!.subarray(28)));
      }
      while (b.rx.step(0) > 0);
      const got = tunOut(b, vnet);
      expect(got).toHaveLength(70);
      for (let i = 0; i < 70; i++) {
        expect(checkIpv4(got[i]!, 0, got[i]!.length)).toBe(Verdict.Ok);
        expect(got[i]![8]).toBe(62);
        expect(hex(got[i]!.subarray(28))).toBe(hex(sent[i]!.subarray(28)));
      }
    });

    it('delivers the frame a kernel flannel.1 sent, from its per-flow source port', () => {
      const { b } = pair(vnet, sg);
      b.udp.inject(ip('198.18.77.1'), 59852, Uint8Array.from(Buffer.from(KERNEL_PAYLOAD, 'hex')));
      while (b.rx.step(0) > 0);
      const got = tunOut(b, vnet);
      expect(got).toHaveLength(1);
      expect([...got[0]!.subarray(12, 20)]).toEqual([10, 244, 1, 0, 10, 244, 2, 7]);
    });

    it('completes the inner TCP/UDP checksums a kernel peer left partial (vxlan over veth), leaves whole ones', () => {
      const { b } = pair(vnet, sg);
      const frame = (inner: Uint8Array): Uint8Array => {
        const f = new Uint8Array(22 + inner.length);
        f.set(Buffer.from(HEADER, 'hex'));
        f.set(inner, 22);
        return f;
      };
      const syn = makeTcp4({
        src: ip('10.244.1.5'),
        dst: ip('10.244.2.9'),
        seq: 7,
        flags: 0x12,
        payload: new Uint8Array(0),
      });
      const partial = syn.slice();
      writeU16(partial, 36, sum16(partial, 12, 8, 6 + (partial.length - 20))); // the pseudo-header sum only
      const udp = makeUdp4(ip('10.244.1.5'), ip('10.244.2.9'), randomBytes(33));
      const udpPartial = udp.slice();
      writeU16(udpPartial, 26, sum16(udpPartial, 12, 8, 17 + (udpPartial.length - 20)));
      for (const p of [partial, syn, udpPartial]) b.udp.inject(ip('198.18.77.1'), 40000, frame(p));
      while (b.rx.step(0) > 0);
      const got = tunOut(b, vnet);
      expect(got).toHaveLength(3);
      expect(tcpChecksumOk(got[0]!)).toBe(true);
      expect(hex(got[0]!.subarray(20))).toBe(hex(syn.subarray(20)));
      expect(hex(got[1]!.subarray(20))).toBe(hex(syn.subarray(20)));
      expect(hex(got[2]!.subarray(20))).toBe(hex(udp.subarray(20)));
      expect(b.counters[C.rxChecksumsCompleted]).toBe(2);
    });

    it('drops by reason what the wire and the engine refuse, and delivers the rest', () => {
      const { a, b } = pair(vnet, sg);
      const frame = (inner: Uint8Array, edit?: (f: Uint8Array) => void): Uint8Array => {
        const f = new Uint8Array(22 + inner.length);
        f.set(Buffer.from(HEADER, 'hex'));
        f.set(inner, 22);
        edit?.(f);
        return f;
      };
      const good = makeUdp4(ip('10.244.1.5'), ip('10.244.2.9'), randomBytes(100));
      const inj = (from: string, data: Uint8Array) => b.udp.inject(ip(from), 40000, data);
      inj('203.0.113.9', frame(good)); // unknown sender
      inj(
        '198.18.77.1',
        frame(good, (f) => (f[6] = 2)),
      ); // wrong VNI
      inj(
        '198.18.77.1',
        frame(good, (f) => (f[13] ^= 1)),
      ); // foreign inner MAC
      inj(
        '198.18.77.1',
        frame(good, (f) => (f[0] = 0)),
      ); // no I flag
      inj(
        '198.18.77.1',
        frame(good, (f) => (f[21] = 6)),
      ); // ARP
      inj('198.18.77.1', frame(good).subarray(0, 15)); // truncated
      inj('198.18.77.1', frame(makeUdp4(ip('10.244.7.7'), ip('10.244.2.9'), randomBytes(10)))); // spoofed
      inj('198.18.77.1', frame(makeUdp4(ip('10.244.1.5'), ip('10.244.3.3'), randomBytes(10)))); // not ours
      inj('198.18.77.1', frame(good.subarray(0, 30))); // inner packet truncated
      inj('198.18.77.1', frame(good));
      while (b.rx.step(0) > 0);
      expect(dropped(b, 'unknown_sender')).toBe(1);
      expect(dropped(b, 'wrong_vni')).toBe(1);
      expect(dropped(b, 'foreign_mac')).toBe(1);
      expect(dropped(b, 'bad_vxlan_flags')).toBe(1);
      expect(dropped(b, 'bad_ethertype')).toBe(1);
      expect(dropped(b, 'truncated')).toBe(1);
      expect(dropped(b, 'spoofed_source')).toBe(1);
      expect(dropped(b, 'wrong_destination')).toBe(1);
      expect(dropped(b, 'bad_length')).toBe(1);
      expect(tunOut(b, vnet)).toHaveLength(1);
      expect(b.counters[C.rxPackets]).toBe(1);
      void a;
    });
  });

for (const sg of [false, true])
  describe(`engines on the VXLAN wire with TUN offloads (${sg ? 'scatter-gather' : 'copying'})`, () => {
    it('sends a TSO super-packet as GSO segments each behind its own header, merged back on receipt', () => {
      const { a, b } = pair(true, sg);
      const mss = 1398;
      const payload = randomBytes(mss * 45 + 77);
      a.tun.toEngine.push(tso(payload, mss));
      a.tx.step(0);
      expect(a.counters[C.txSuperPackets]).toBe(1);
      expect(a.counters[C.txPackets]).toBe(46);
      expect(a.udp.sendCalls).toBe(1);
      const wire = b.udp.inbox.map((d) => d.data);
      expect(wire).toHaveLength(46);
      for (const d of wire) {
        expect(hex(d.subarray(0, 22))).toBe(HEADER);
        expect(d.length).toBeLessThanOrEqual(22 + MTU);
        expect(checkIpv4(d, 22, d.length - 22)).toBe(Verdict.Ok);
        expect(tcpChecksumOk(d.subarray(22))).toBe(true);
      }
      expect(hex(Buffer.concat(wire.map((d) => d.subarray(22 + 40))))).toBe(hex(payload));
      while (b.rx.step(0) > 0);
      expect(b.counters[C.rxPackets]).toBe(46);
      expect(b.tun.fromEngine).toHaveLength(1);
      expect(hex(b.tun.fromEngine[0]!.subarray(VNET_HDR_LEN + 40))).toBe(hex(payload));
      expect(b.counters[C.rxMerged]).toBe(1);
    });

    it('falls back to one datagram per segment, headers intact, when the kernel refuses UDP GSO', () => {
      const { a, b } = pair(true, sg);
      let first = true;
      const refuse =
        <T extends unknown[]>(f: (...x: T) => number, gsoArg: (x: T) => boolean) =>
        (...x: T): number => {
          if (first && gsoArg(x)) {
            first = false;
            return -5; // EIO
          }
          return f(...x);
        };
      a.udp.send = refuse(a.udp.send.bind(a.udp), (x) => x[7][0]! > 0);
      a.udp.sendv = refuse(a.udp.sendv.bind(a.udp), (x) => x[6][x[2]]! > 0);
      const payload = randomBytes(1398 * 10);
      a.tun.toEngine.push(tso(payload, 1398));
      a.tx.step(0);
      expect(a.tx.gsoEnabled).toBe(false);
      expect(b.udp.inbox).toHaveLength(10);
      for (const d of b.udp.inbox) {
        expect(hex(d.data.subarray(0, 22))).toBe(HEADER);
        expect(tcpChecksumOk(d.data.subarray(22))).toBe(true);
      }
    });
  });
