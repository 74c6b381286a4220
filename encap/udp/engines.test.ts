/** Two udp engines back to back over an in-memory TUN and network: forwarding, offloads, hostile input. */
import { describe, expect, it } from 'vitest';
import { parseCidr, parseIpv4 } from '../../core/ipv4.js';
import { sum16, writeU16 } from '../packet/checksum.js';
import { checkIpv4, Verdict } from '../packet/ipv4-packet.js';
import { completeChecksum } from '../packet/tcp-gso.js';
import { makeTcp4, makeUdp4, randomBytes, tcpChecksumOk } from '../../test/support/test-packets.js';
import {
  GSO_TCPV4,
  VNET_F_NEEDS_CSUM,
  VNET_HDR_LEN,
  newVnetHdr,
  readVnetHdr,
  writeVnetHdr,
} from '../packet/vnet-hdr.js';
import { SlotPool } from '../pool.js';
import { seededRandom } from '../../test/support/seeded-random.js';
import { C, dropIndex, reasonIndex, type DropReason } from './counters.js';
import { MemoryNetwork, MemoryTun, MemoryUdp } from '../../test/support/memory-io.js';
import { SharedPeerTable } from './peer-table.js';
import { RxEngine } from './rx-engine.js';
import { TxEngine } from './tx-engine.js';

const ip = (s: string): number => parseIpv4(s)!;
const PORT = 8285;

function node(netw: MemoryNetwork, publicIp: string, subnet: string, vnet: boolean, sg: boolean, batch = 64) {
  const table = new SharedPeerTable(64);
  const counters = new Float64Array(128);
  const tun = new MemoryTun();
  const udp = new MemoryUdp(netw, ip(publicIp), PORT, vnet);
  const slot = vnet ? 65536 + 16 : 2048;
  const opts = { vnet, gso: vnet, sg, batch, maxPacket: 1472 };
  const tx = new TxEngine(opts, new SlotPool(batch * 2, slot, 16), table, tun, udp, counters, sum16);
  const rx = new RxEngine(opts, new SlotPool(batch * 2, slot, 16), table, tun, udp, counters);
  const own = parseCidr(subnet)!;
  return { table, counters, tun, udp, tx, rx, own, publicIp: ip(publicIp) };
}

function pair(vnet: boolean, sg = false) {
  const netw = new MemoryNetwork();
  const a = node(netw, '198.18.0.1', '10.244.1.0/24', vnet, sg);
  const b = node(netw, '198.18.0.2', '10.244.2.0/24', vnet, sg);
  a.table.publish(a.own, [{ subnetIp: b.own.ip, prefixLen: 24, publicIp: b.publicIp, port: PORT }]);
  b.table.publish(b.own, [{ subnetIp: a.own.ip, prefixLen: 24, publicIp: a.publicIp, port: PORT }]);
  return { a, b };
}

const dropped = (n: ReturnType<typeof node>, dir: 'tx' | 'rx', r: DropReason): number =>
  n.counters[dropIndex(dir, reasonIndex(r))]!;
const withVnet = (p: Uint8Array, h = newVnetHdr()): Uint8Array => {
  const out = new Uint8Array(VNET_HDR_LEN + p.length);
  writeVnetHdr(out, 0, h);
  out.set(p, VNET_HDR_LEN);
  return out;
};

const VARIANTS = [
  { vnet: false, sg: false, name: 'offloads off' },
  { vnet: true, sg: false, name: 'offloads on, copying' },
  { vnet: true, sg: true, name: 'offloads on, scatter-gather' },
];
for (const { vnet, sg, name } of VARIANTS) {
  describe(`udp engines back to back (${name})`, () => {
    it('carries packets with only the TTL changed, as raw IPv4 in UDP (flannel wire format)', () => {
      const { a, b } = pair(vnet, sg);
      const sent = Array.from({ length: 100 }, (_, i) =>
        makeUdp4(ip('10.244.1.5'), ip('10.244.2.9'), randomBytes(1 + i * 13)),
      );
      for (const p of sent) a.tun.toEngine.push(vnet ? withVnet(p) : p);
      expect(a.tx.step(0)).toBe(64);
      expect(a.tx.step(0)).toBe(36);
      expect(a.udp.sendCalls).toBe(2); // one sendmmsg per batch
      // what went on the wire is exactly the inner packet (TTL-1)
      const wire = b.udp.inbox.map((d) => d.data);
      expect(wire).toHaveLength(100);
      expect(wire[0]![8]).toBe(63);
      while (b.rx.step(0) > 0);
      const got = b.tun.fromEngine.map((p) => (vnet ? p.subarray(VNET_HDR_LEN) : p));
      expect(got).toHaveLength(100);
      for (let i = 0; i < 100; i++) {
        expect(checkIpv4(got[i]!, 0, got[i]!.length)).toBe(Verdict.Ok);
        expect(got[i]![8]).toBe(62);
        expect(Buffer.from(got[i]!.subarray(28)).equals(Buffer.from(sent[i]!.subarray(28)))).toBe(true);
      }
      expect(a.counters[C.txPackets]).toBe(100);
      expect(b.counters[C.rxPackets]).toBe(100);
    });

    it('answers an unknown destination with ICMP net unreachable into the TUN', () => {
      const { a } = pair(vnet, sg);
      const p = makeUdp4(ip('10.244.1.5'), ip('10.99.0.1'), randomBytes(20));
      a.tun.toEngine.push(vnet ? withVnet(p) : p);
      a.tx.step(0);
      expect(dropped(a, 'tx', 'no_route')).toBe(1);
      expect(a.tun.fromEngine).toHaveLength(1);
      const reply = vnet ? a.tun.fromEngine[0]!.subarray(VNET_HDR_LEN) : a.tun.fromEngine[0]!;
      expect([reply[20], reply[21]]).toEqual([3, 0]);
      expect(a.counters[C.icmpUnreachable]).toBe(1);
    });

    it('drops hostile datagrams by reason and still delivers the legitimate ones', () => {
      const { a, b } = pair(vnet, sg);
      const good = makeUdp4(ip('10.244.1.5'), ip('10.244.2.9'), randomBytes(100));
      const inj = (from: string, port: number, data: Uint8Array) => b.udp.inject(ip(from), port, data);
      inj('203.0.113.9', PORT, good); // unknown sender
      inj('198.18.0.1', 9999, good); // known IP, wrong port
      inj('198.18.0.1', PORT, makeUdp4(ip('10.244.7.7'), ip('10.244.2.9'), randomBytes(10))); // spoofed source
      inj('198.18.0.1', PORT, makeUdp4(ip('10.244.1.5'), ip('10.244.3.3'), randomBytes(10))); // not for us
      inj('198.18.0.1', PORT, makeUdp4(ip('10.244.1.5'), ip('10.244.2.9'), randomBytes(10), 1)); // TTL 1
      inj('198.18.0.1', PORT, good.subarray(0, 30)); // truncated
      inj('198.18.0.1', PORT, randomBytes(5)); // garbage
      const badIhl = good.slice();
      badIhl[0] = 0x43;
      inj('198.18.0.1', PORT, badIhl);
      const badSum = good.slice();
      badSum[10]! ^= 1;
      inj('198.18.0.1', PORT, badSum);
      inj('198.18.0.1', PORT, randomBytes(70_000)); // oversized
      inj('198.18.0.1', PORT, good);
      while (b.rx.step(0) > 0);
      expect(dropped(b, 'rx', 'unknown_sender')).toBe(2);
      expect(dropped(b, 'rx', 'spoofed_source')).toBe(1);
      expect(dropped(b, 'rx', 'wrong_destination')).toBe(1);
      expect(dropped(b, 'rx', 'ttl_expired')).toBe(1);
      expect(dropped(b, 'rx', 'bad_length')).toBe(1);
      expect(dropped(b, 'rx', 'too_short')).toBe(1);
      expect(dropped(b, 'rx', 'bad_ihl')).toBe(1);
      expect(dropped(b, 'rx', 'bad_header_checksum')).toBe(1);
      expect(dropped(b, 'rx', 'oversized')).toBe(1);
      expect(b.tun.fromEngine).toHaveLength(1);
      void a;
    });

    it("is not fooled by a second lease claiming a peer's PublicIP", () => {
      const { a, b } = pair(vnet, sg);
      b.table.publish(b.own, [
        { subnetIp: a.own.ip, prefixLen: 24, publicIp: a.publicIp, port: PORT },
        { subnetIp: ip('10.244.204.0'), prefixLen: 24, publicIp: a.publicIp, port: PORT },
      ]);
      const p = makeUdp4(ip('10.244.1.5'), ip('10.244.2.9'), randomBytes(10));
      a.tun.toEngine.push(vnet ? withVnet(p) : p);
      a.tx.step(0);
      b.rx.step(0);
      expect(b.tun.fromEngine).toHaveLength(1);
    });

    it('survives a fuzz of random datagrams from a known peer (seeded; rx-validation.test.ts reaches past the checksum)', () => {
      const rng = seededRandom();
      const { b } = pair(vnet, sg);
      for (let i = 0; i < 3000; i++) {
        const d = rng.bytes(rng.int(200));
        if (d.length > 0 && rng.chance(0.7)) d[0] = 0x45;
        b.udp.inject(ip('198.18.0.1'), PORT, d);
      }
      expect(() => {
        while (b.rx.step(0) > 0);
      }, rng.why).not.toThrow();
      expect(b.counters[C.rxPackets], rng.why).toBe(b.tun.fromEngine.length);
    });

    it('applies peer changes between batches without a restart', () => {
      const { a, b } = pair(vnet, sg);
      const p = () => makeUdp4(ip('10.244.1.5'), ip('10.244.2.9'), randomBytes(10));
      a.tun.toEngine.push(vnet ? withVnet(p()) : p());
      a.tx.step(0);
      a.table.publish(a.own, []); // peer removed
      a.tun.toEngine.push(vnet ? withVnet(p()) : p());
      a.tx.step(0);
      expect(dropped(a, 'tx', 'no_route')).toBe(1);
      a.table.publish(a.own, [{ subnetIp: b.own.ip, prefixLen: 24, publicIp: b.publicIp, port: PORT }]);
      a.tun.toEngine.push(vnet ? withVnet(p()) : p());
      a.tx.step(0);
      expect(a.counters[C.txPackets]).toBe(2);
    });
  });
}

for (const sg of [false, true])
  describe(`udp engines with TUN offloads (${sg ? 'scatter-gather' : 'copying'})`, () => {
    it('splits a TSO super-packet, sends it with UDP GSO, and merges it back for the TUN', () => {
      const { a, b } = pair(true, sg);
      const mss = 1400;
      const payload = randomBytes(mss * 40 + 123);
      const pkt = makeTcp4({ src: ip('10.244.1.5'), dst: ip('10.244.2.9'), seq: 1, flags: 0x18, payload });
      // The kernel hands TSO packets with a partial checksum: the field holds the pseudo-header sum.
      const pseudo = sum16(pkt, 12, 8, 6 + (pkt.length - 20));
      writeU16(pkt, 36, pseudo);
      const h = newVnetHdr();
      Object.assign(h, {
        flags: VNET_F_NEEDS_CSUM,
        gsoType: GSO_TCPV4,
        hdrLen: 40,
        gsoSize: mss,
        csumStart: 20,
        csumOffset: 16,
      });
      a.tun.toEngine.push(withVnet(pkt, h));
      a.tx.step(0);
      expect(a.counters[C.txSuperPackets]).toBe(1);
      expect(a.counters[C.txPackets]).toBe(41);
      expect(a.udp.sendCalls).toBe(1);
      // every datagram on the wire is a complete, valid packet
      for (const d of b.udp.inbox) {
        expect(checkIpv4(d.data, 0, d.data.length)).toBe(Verdict.Ok);
        expect(tcpChecksumOk(d.data)).toBe(true);
      }
      while (b.rx.step(0) > 0);
      expect(b.counters[C.rxPackets]).toBe(41);
      expect(b.tun.fromEngine).toHaveLength(1);
      const out = b.tun.fromEngine[0]!;
      const vh = readVnetHdr(out, 0, newVnetHdr());
      expect(vh.gsoType).toBe(GSO_TCPV4);
      expect(vh.gsoSize).toBe(mss);
      const merged = out.slice(VNET_HDR_LEN);
      expect(Buffer.from(merged.subarray(40)).equals(Buffer.from(payload))).toBe(true);
      completeChecksum(merged, 0, merged.length, vh.csumStart, vh.csumOffset, sum16);
      expect(tcpChecksumOk(merged)).toBe(true);
      expect(b.counters[C.rxMerged]).toBe(1);
      // Scatter-gather writes the merged packet as a header plus the payload ranges, uncopied.
      expect(b.tun.gathered).toBe(sg ? 1 : 0);
    });

    it('sends a batch of super-packets at the smallest MSS, with small packets between, across call limits', () => {
      const { a, b } = pair(true, sg);
      a.udp.sendvLimit = 3; // the native call's limit, made small: the engine must send the rest
      const tso = (seq: number, mss: number, size: number) => {
        const payload = randomBytes(size);
        const pkt = makeTcp4({ src: ip('10.244.1.5'), dst: ip('10.244.2.9'), seq, flags: 0x10, payload });
        writeU16(pkt, 36, sum16(pkt, 12, 8, 6 + (pkt.length - 20)));
        const h = newVnetHdr();
        Object.assign(h, { flags: VNET_F_NEEDS_CSUM, gsoType: GSO_TCPV4, hdrLen: 40, gsoSize: mss });
        Object.assign(h, { csumStart: 20, csumOffset: 16 });
        return { pkt: withVnet(pkt, h), payload };
      };
      const big = [tso(1, 536, 60_000), tso(60_001, 1400, 1400 * 20), tso(88_001, 88, 9_000)];
      for (const p of big) {
        a.tun.toEngine.push(p.pkt);
        a.tun.toEngine.push(withVnet(makeUdp4(ip('10.244.1.5'), ip('10.244.2.9'), randomBytes(50))));
      }
      a.tx.step(0);
      const segments = Math.ceil(60_000 / 536) + 20 + Math.ceil(9_000 / 88);
      expect(a.counters[C.txPackets]).toBe(segments + 3);
      expect(a.counters[C.txSuperPackets]).toBe(3);
      expect(dropped(a, 'tx', 'send_error')).toBe(0);
      const wire = b.udp.inbox.map((d) => d.data);
      expect(wire).toHaveLength(segments + 3);
      for (const d of wire) {
        expect(checkIpv4(d, 0, d.length)).toBe(Verdict.Ok);
        if (d[9] === 6) expect(tcpChecksumOk(d)).toBe(true);
      }
      // The TCP payloads on the wire, in order, are the super-packets' payloads.
      const tcp = wire.filter((d) => d[9] === 6).map((d) => d.subarray(40));
      expect(Buffer.concat(tcp).equals(Buffer.concat(big.map((p) => p.payload)))).toBe(true);
    });

    it('falls back to one datagram per segment when the kernel refuses UDP GSO', () => {
      const { a, b } = pair(true, sg);
      let first = true;
      const send = a.udp.send.bind(a.udp);
      a.udp.send = (...args) => {
        if (first && args[6][0]! > 0) {
          first = false;
          return -5; // EIO
        }
        return send(...args);
      };
      const sendv = a.udp.sendv.bind(a.udp);
      a.udp.sendv = (...args) => {
        if (first && args[6][args[2]]! > 0) {
          first = false;
          return -5; // EIO
        }
        return sendv(...args);
      };
      const payload = randomBytes(1400 * 10);
      const pkt = makeTcp4({ src: ip('10.244.1.5'), dst: ip('10.244.2.9'), payload });
      const h = newVnetHdr();
      Object.assign(h, { gsoType: GSO_TCPV4, hdrLen: 40, gsoSize: 1400 });
      a.tun.toEngine.push(withVnet(pkt, h));
      a.tx.step(0);
      expect(a.tx.gsoEnabled).toBe(false);
      expect(a.counters[C.gsoDisabled]).toBe(1);
      expect(a.counters[C.txPackets]).toBe(10);
      expect(b.udp.inbox).toHaveLength(10);
      for (const d of b.udp.inbox) expect(tcpChecksumOk(d.data)).toBe(true);
    });

    it("does not leak pool slots across batches (only the engines' own read slots stay taken)", () => {
      const { a, b } = pair(true, sg);
      const inUse = (e: unknown): number => (e as { pool: SlotPool }).pool.inUse;
      const [txResident, rxResident] = [inUse(a.tx), inUse(b.rx)];
      expect(txResident).toBeGreaterThan(0);
      for (let round = 0; round < 50; round++) {
        for (let i = 0; i < 70; i++)
          a.tun.toEngine.push(withVnet(makeUdp4(ip('10.244.1.5'), ip('10.244.2.9'), randomBytes(100))));
        while (a.tx.step(0) > 0);
        while (b.rx.step(0) > 0);
      }
      expect(b.tun.fromEngine).toHaveLength(3500);
      expect(inUse(a.tx)).toBe(txResident);
      expect(inUse(b.rx)).toBe(rxResident);
    });
  });
