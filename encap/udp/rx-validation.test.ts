/**
 * A structured fuzz of the receive-side validation (rx-engine.ts step 2). Random bytes almost never
 * carry a valid IPv4 header checksum, so they only ever reach the first checks; here every
 * datagram starts as a packet the engine must deliver (valid header and checksum, a known peer's
 * subnet to ours, TTL ≥ 2) and then gets at most one defect, re-checksummed where the defect is not
 * the checksum itself. The expected outcome comes from the defect chosen, not from re-running the
 * checks, so each drop counter is compared exactly and every delivered packet byte for byte.
 */
import { describe, expect, it } from 'vitest';
import { seededRandom, type Rng } from '../../test/support/seeded-random.js';
import { checksum, writeU16, writeU32 } from '../packet/checksum.js';
import { VNET_HDR_LEN } from '../packet/vnet-hdr.js';
import { SlotPool } from '../pool.js';
import { C, DROP_REASONS, dropIndex, reasonIndex, type DropReason } from './counters.js';
import { MemoryNetwork, MemoryTun, MemoryUdp } from '../../test/support/memory-io.js';
import { SharedPeerTable } from './peer-table.js';
import { RxEngine } from './rx-engine.js';

const PORT = 8285;
const PEER_IP = 0xc6120001; // 198.18.0.1, whose lease is 10.244.1.0/24
const PEER_NET = 0x0af40100;
const OWN_NET = 0x0af40200; // 10.244.2.0/24
const MAX_PACKET = 1472;

function receiver(vnet: boolean) {
  const table = new SharedPeerTable(8);
  table.publish({ ip: OWN_NET, prefixLen: 24 }, [
    { subnetIp: PEER_NET, prefixLen: 24, publicIp: PEER_IP, port: PORT },
  ]);
  const counters = new Float64Array(128);
  const tun = new MemoryTun();
  const udp = new MemoryUdp(new MemoryNetwork(), 0xc6120002, PORT, vnet);
  const opts = { vnet, gso: vnet, sg: false, batch: 64, maxPacket: MAX_PACKET };
  const rx = new RxEngine(opts, new SlotPool(128, vnet ? 65536 + 16 : 2048, 16), table, tun, udp, counters);
  return { counters, tun, udp, rx };
}

const refresh = (p: Uint8Array): void => {
  const ihl = (p[0]! & 15) * 4;
  writeU16(p, 10, 0);
  writeU16(p, 10, checksum(p, 0, ihl));
};

/** A packet the engine must deliver: UDP or ICMP (nothing GRO merges), options sometimes. */
function validPacket(rng: Rng): Uint8Array {
  const ihl = rng.chance(0.8) ? 5 : 6 + rng.int(10);
  const len = Math.max(ihl * 4, 20 + rng.int(MAX_PACKET - 19));
  const p = rng.bytes(len);
  p[0] = 0x40 | ihl;
  writeU16(p, 2, len);
  writeU16(p, 6, rng.chance(0.5) ? 0x4000 : rng.int(0x10000) & 0x3fff); // DF, or any fragment
  p[8] = 2 + rng.int(254);
  p[9] = rng.chance(0.5) ? 17 : 1;
  writeU32(p, 12, (PEER_NET | rng.int(256)) >>> 0);
  writeU32(p, 16, (OWN_NET | rng.int(256)) >>> 0);
  refresh(p);
  return p;
}

interface Case {
  from: number;
  port: number;
  data: Uint8Array;
  /** undefined: delivered. */
  reason: DropReason | undefined;
}

/**
 * An address outside net/24: half the time a near miss (one network bit flipped, so a prefix
 * compared one bit short fails), else anywhere.
 */
const outside = (rng: Rng, net: number): number => {
  if (rng.chance(0.5)) return ((net | rng.int(256)) ^ (1 << (8 + rng.int(24)))) >>> 0;
  for (;;) {
    const a = rng.u32();
    if ((a & 0xffffff00) >>> 0 !== net) return a;
  }
};

/** One defect per datagram (or none), applied after the header was made valid. */
const DEFECTS: ReadonlyArray<(p: Uint8Array, rng: Rng, c: Case) => void> = [
  (_p, _r, c) => void (c.reason = undefined),
  (p, r, c) => ((c.data = p.subarray(0, r.int(20))), (c.reason = 'too_short')),
  (p, r, c) => {
    const version = r.int(15);
    p[0] = ((version >= 4 ? version + 1 : version) << 4) | (p[0]! & 15);
    refresh(p);
    c.reason = 'not_ipv4';
  },
  (p, r, c) => ((p[0] = 0x40 | r.int(5)), (c.reason = 'bad_ihl')), // IHL < 5: no checksum to fix
  (p, r, c) => {
    // IHL past the end of the datagram (whose total length is right)
    const words = Math.min(p.length >> 2, 5 + r.int(9));
    c.data = p.subarray(0, words * 4);
    p[0] = 0x40 | (words + 1 + r.int(15 - words));
    writeU16(p, 2, words * 4);
    c.reason = 'bad_ihl';
  },
  (p, r, c) => {
    const len = p.length;
    let other = r.int(0x10000);
    if (other === len) other = len + 1;
    writeU16(p, 2, other);
    refresh(p);
    c.reason = 'bad_length';
  },
  (p, r, c) => {
    const ihl = (p[0]! & 15) * 4;
    p[4 + r.int(ihl - 4)]! ^= 1 + r.int(255); // any byte past the length field
    c.reason = 'bad_header_checksum';
  },
  (p, r, c) => ((p[8] = r.int(2)), refresh(p), (c.reason = 'ttl_expired')),
  (p, r, c) => (writeU32(p, 12, outside(r, PEER_NET)), refresh(p), (c.reason = 'spoofed_source')),
  (p, r, c) => (writeU32(p, 16, outside(r, OWN_NET)), refresh(p), (c.reason = 'wrong_destination')),
  (_p, r, c) => (
    (c.from = r.chance(0.5) ? (PEER_IP ^ (1 << r.int(32))) >>> 0 : outside(r, PEER_IP & 0xffffff00)),
    (c.reason = 'unknown_sender')
  ),
  (_p, r, c) => (
    (c.port = r.chance(0.5) ? PORT + 1 + r.int(100) : r.int(PORT)),
    (c.reason = 'unknown_sender')
  ),
  (_p, r, c) => {
    // a valid packet, larger than the TUN MTU
    const big = new Uint8Array(MAX_PACKET + 1 + r.int(500));
    big.set(c.data.subarray(0, 20));
    big[0] = 0x45;
    writeU16(big, 2, big.length);
    refresh(big);
    c.data = big;
    c.reason = 'oversized';
  },
];

for (const vnet of [false, true]) {
  describe(`rx validation (offloads ${vnet ? 'on' : 'off'})`, () => {
    it('drops each kind of defect under its own reason and delivers the rest intact (seeded fuzz)', () => {
      const rng = seededRandom();
      const { counters, tun, udp, rx } = receiver(vnet);
      const want = new Map<DropReason, number>();
      const delivered: Uint8Array[] = [];
      for (let i = 0; i < 4000; i++) {
        const p = validPacket(rng);
        const c: Case = { from: PEER_IP, port: PORT, data: p, reason: undefined };
        DEFECTS[rng.int(DEFECTS.length)]!(p, rng, c);
        udp.inject(c.from, c.port, c.data.slice());
        if (c.reason) want.set(c.reason, (want.get(c.reason) ?? 0) + 1);
        else {
          const out = c.data.slice();
          out[8]! -= 1;
          refresh(out);
          delivered.push(out);
        }
      }
      while (rx.step(0) > 0);
      for (const r of DROP_REASONS)
        expect(counters[dropIndex('rx', reasonIndex(r))], `${r}, ${rng.why}`).toBe(want.get(r) ?? 0);
      expect(counters[C.rxPackets], rng.why).toBe(delivered.length);
      const got = tun.fromEngine.map((w) => Buffer.from(vnet ? w.subarray(VNET_HDR_LEN) : w).toString('hex'));
      expect(got, rng.why).toEqual(delivered.map((d) => Buffer.from(d).toString('hex')));
      // every reason the fuzz means to reach was reached
      for (const r of ['too_short', 'not_ipv4', 'bad_ihl', 'bad_length', 'bad_header_checksum'] as const)
        expect(want.get(r), r).toBeGreaterThan(0);
    });
  });
}

describe('rx validation of empty datagrams', () => {
  it('counts an empty datagram once: too_short from a peer, unknown_sender from a stranger', () => {
    for (const vnet of [false, true]) {
      const { counters, udp, rx } = receiver(vnet);
      udp.inject(PEER_IP, PORT, new Uint8Array(0));
      udp.inject(0xcb007109, PORT, new Uint8Array(0));
      while (rx.step(0) > 0);
      expect(counters[dropIndex('rx', reasonIndex('too_short'))]).toBe(1);
      expect(counters[dropIndex('rx', reasonIndex('unknown_sender'))]).toBe(1); // was NaN: 0/0 segments
    }
  });
});
