/**
 * The udp engines on the WireGuard wire, two nodes back to back over the in-memory network, with
 * sessions handed over as the control plane would (fixed keys, so the bytes can be checked against
 * node:crypto's ChaCha20-Poly1305 independently of the data plane): what goes on the wire, held
 * packets released by a session, GSO with a counter per segment, and every receive drop by reason.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseCidr, parseIpv4 } from '../../core/ipv4.js';
import { sum16, writeU16 } from '../packet/checksum.js';
import { checkIpv4, Verdict } from '../packet/ipv4-packet.js';
import { GSO_TCPV4, VNET_F_NEEDS_CSUM, VNET_HDR_LEN, newVnetHdr, writeVnetHdr } from '../packet/vnet-hdr.js';
import { makeTcp4, makeUdp4, randomBytes } from '../../test/support/test-packets.js';
import { MemoryNetwork, MemoryTun, MemoryUdp } from '../../test/support/memory-io.js';
import { nodeAead } from '../../test/support/node-aead.js';
import { QueuedControl } from '../../test/support/queued-control.js';
import { udpEngines } from '../../test/support/udp-engines.js';
import { C, COUNTER_SLOTS, dropIndex, reasonIndex, type DropReason } from './counters.js';
import { SharedPeerTable } from './peer-table.js';
import { WgDataplane, type ControlAction, type CounterWindow } from './wg-dataplane.js';
import { WireguardWire } from './wire/wireguard-wire.js';

const ip = (s: string): number => parseIpv4(s)!;
const PORT = 51820;
const MTU = 1420;
const KEY_A = new Uint8Array(32).fill(0xa1); // a's public key (any 32 bytes: no handshake here)
const KEY_B = new Uint8Array(32).fill(0xb2);
const id = (k: Uint8Array): string => Buffer.from(k).toString('base64');
const A_TO_B = Buffer.alloc(32, 0x11); // a's send key = b's receive key
const B_TO_A = Buffer.alloc(32, 0x22);

/** Window of exact counters seen, bounded behind the highest by 2048 (enough for these tests). */
class TestWindow implements CounterWindow {
  private readonly seen = new Set<number>();
  private top = -1;
  mayAccept(n: number): boolean {
    return !this.seen.has(n) && n > this.top - 2048;
  }
  accept(n: number): boolean {
    if (!this.mayAccept(n)) return false;
    this.seen.add(n);
    this.top = Math.max(this.top, n);
    return true;
  }
}

/** Hands out the sessions the test queues; records what it is asked. */
class ScriptedControl extends QueuedControl {
  wanted: string[] = [];
  sent = 0;
  received: { index: number; address: number; port: number; keepalive: boolean }[] = [];
  override noteTransportSent(_p: string, n: number, keepalive: boolean): readonly ControlAction[] {
    if (!keepalive) this.sent += n;
    return [];
  }
  override noteTransportReceived(
    index: number,
    from: { address: number; port: number },
    keepalive: boolean,
  ): readonly ControlAction[] {
    this.received.push({ index, ...from, keepalive });
    return [];
  }
  override wantSession(peer: string): readonly ControlAction[] {
    this.wanted.push(peer);
    return [];
  }
}

let clock = 1_000_000;
function node(netw: MemoryNetwork, publicIp: string, subnet: string, vnet: boolean) {
  const table = new SharedPeerTable(64);
  const counters = new Float64Array(COUNTER_SLOTS);
  const tun = new MemoryTun();
  const udp = new MemoryUdp(netw, ip(publicIp), PORT, vnet);
  const control = new ScriptedControl();
  const dp = new WgDataplane(
    { mtu: MTU, rejectAfterMs: 180_000, now: () => clock, newWindow: () => new TestWindow() },
    table,
    control,
    nodeAead,
    udp,
    counters,
    64 * 64,
  );
  const wire = new WireguardWire(dp);
  const { tx, rx } = udpEngines({ table, counters, tun, udp, wire }, { vnet, sg: vnet, mtu: MTU });
  return { table, counters, tun, udp, control, dp, tx, rx, own: parseCidr(subnet)!, publicIp: ip(publicIp) };
}
type Node = ReturnType<typeof node>;

function pair(vnet: boolean) {
  const netw = new MemoryNetwork();
  const a = node(netw, '198.18.80.1', '10.244.1.0/24', vnet);
  const b = node(netw, '198.18.80.2', '10.244.2.0/24', vnet);
  const entry = (n: Node, key: Uint8Array) => ({
    subnetIp: n.own.ip,
    prefixLen: 24,
    publicIp: n.publicIp,
    port: PORT,
    publicKey: key,
  });
  a.table.publish(a.own, [entry(b, KEY_B)]);
  b.table.publish(b.own, [entry(a, KEY_A)]);
  return { a, b };
}

/** Sessions as a finished handshake leaves them: a initiated (index 0x0a0a0a0a), b responded (0x0b0b0b0b). */
function establish(a: Node, b: Node): void {
  a.control.queued.push({
    session: {
      peer: id(KEY_B),
      localIndex: 0x0a0a0a0a,
      remoteIndex: 0x0b0b0b0b,
      sendKey: A_TO_B,
      recvKey: B_TO_A,
      isInitiator: true,
      createdAtMs: clock,
    },
  });
  b.control.queued.push({
    session: {
      peer: id(KEY_A),
      localIndex: 0x0b0b0b0b,
      remoteIndex: 0x0a0a0a0a,
      sendKey: B_TO_A,
      recvKey: A_TO_B,
      isInitiator: false,
      createdAtMs: clock,
    },
  });
  clock += 1000;
  b.dp.service(clock);
  a.dp.service(clock); // sends a keepalive when nothing is held: b's session is then confirmed
}

const drain = (n: Node): void => {
  while (n.rx.step(0) > 0) n.dp.service(clock);
};
const dropped = (n: Node, r: DropReason, dir: 'rx' | 'tx' = 'rx'): number =>
  n.counters[dropIndex(dir, reasonIndex(r))]!;
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const nonce = (c: number): Buffer => {
  const n = Buffer.alloc(12);
  n.writeBigUInt64LE(BigInt(c), 4);
  return n;
};
/** Independent of the data plane: node:crypto opens a transport message sent a → b. */
function openAtoB(msg: Uint8Array): Buffer {
  const counter = Number(Buffer.from(msg).readBigUInt64LE(8));
  const d = createDecipheriv('chacha20-poly1305', A_TO_B, nonce(counter), { authTagLength: 16 });
  d.setAuthTag(msg.subarray(msg.length - 16));
  const pt = d.update(msg.subarray(16, msg.length - 16));
  d.final();
  return pt;
}
/** A transport message as a's peer would seal it, for hostile-input tests. */
function sealAtoB(counter: number, plain: Uint8Array, receiver = 0x0b0b0b0b): Uint8Array {
  const c = createCipheriv('chacha20-poly1305', A_TO_B, nonce(counter), { authTagLength: 16 });
  const ct = Buffer.concat([c.update(plain), c.final()]);
  const h = Buffer.alloc(16);
  h.writeUInt32LE(4, 0);
  h.writeUInt32LE(receiver, 4);
  h.writeBigUInt64LE(BigInt(counter), 8);
  return Buffer.concat([h, ct, c.getAuthTag()]);
}
const withVnet = (p: Uint8Array, h = newVnetHdr()): Uint8Array => {
  const out = new Uint8Array(VNET_HDR_LEN + p.length);
  writeVnetHdr(out, 0, h);
  out.set(p, VNET_HDR_LEN);
  return out;
};
const tunOut = (n: Node, vnet: boolean): Uint8Array[] =>
  n.tun.fromEngine.map((p) => (vnet ? p.subarray(VNET_HDR_LEN) : p));

for (const vnet of [false, true])
  describe(`engines on the WireGuard wire (offloads ${vnet ? 'on' : 'off'})`, () => {
    it('holds packets for a peer without a session, asks for one, and sends them sealed once it is up', () => {
      const { a, b } = pair(vnet);
      const sent = [1, 15, 16, 17, 1000, MTU - 28].map((n) =>
        makeUdp4(ip('10.244.1.5'), ip('10.244.2.9'), randomBytes(n)),
      );
      for (const p of sent) a.tun.toEngine.push(vnet ? withVnet(p) : p);
      a.tx.step(0);
      expect(a.control.wanted).toEqual([id(KEY_B)]);
      expect(a.counters[C.wgHeld]).toBe(sent.length);
      expect(b.udp.inbox).toHaveLength(0); // nothing in clear, nothing at all
      establish(a, b);
      expect(a.dp.hasReleased).toBe(true);
      a.tx.step(0);
      const wire = b.udp.inbox.map((d) => d.data);
      expect(wire).toHaveLength(sent.length);
      for (let i = 0; i < sent.length; i++) {
        const m = wire[i]!;
        expect(hex(m.subarray(0, 8))).toBe('040000000b0b0b0b');
        expect(Number(Buffer.from(m).readBigUInt64LE(8))).toBe(i);
        const inner = sent[i]!.length;
        const padded = Math.min(Math.ceil(inner / 16) * 16, Math.max(inner, MTU));
        expect(m.length).toBe(16 + padded + 16);
        const pt = openAtoB(m);
        expect(pt[8]).toBe(63); // TTL − 1
        expect(hex(pt.subarray(20, inner))).toBe(hex(sent[i]!.subarray(20)));
        expect(pt.subarray(inner).every((x) => x === 0)).toBe(true); // zero padding
      }
      drain(b);
      const got = tunOut(b, vnet);
      expect(got).toHaveLength(sent.length);
      for (let i = 0; i < sent.length; i++) {
        expect(checkIpv4(got[i]!, 0, got[i]!.length)).toBe(Verdict.Ok);
        expect(hex(got[i]!.subarray(28))).toBe(hex(sent[i]!.subarray(28)));
      }
      expect(b.counters[C.rxPackets]).toBe(sent.length);
      expect(b.counters[C.wgKeepalivesReceived]).toBe(0); // a had packets held: no keepalive needed
    });

    it('confirms the responder with the initiator keepalive, then carries packets both ways', () => {
      const { a, b } = pair(vnet);
      establish(a, b);
      expect(a.counters[C.wgKeepalivesSent]).toBe(1);
      drain(b);
      expect(b.counters[C.wgKeepalivesReceived]).toBe(1);
      const ping = makeUdp4(ip('10.244.2.9'), ip('10.244.1.5'), randomBytes(56));
      b.tun.toEngine.push(vnet ? withVnet(ping) : ping);
      b.tx.step(0);
      expect(b.control.wanted).toEqual([]); // confirmed: b sends at once
      drain(a);
      expect(tunOut(a, vnet)).toHaveLength(1);
      expect(hex(tunOut(a, vnet)[0]!.subarray(20))).toBe(hex(ping.subarray(20)));
      const back = makeUdp4(ip('10.244.1.5'), ip('10.244.2.9'), randomBytes(56));
      a.tun.toEngine.push(vnet ? withVnet(back) : back);
      a.tx.step(0);
      drain(b);
      expect(tunOut(b, vnet)).toHaveLength(1);
      expect(b.control.received.at(-1)).toEqual({
        index: 0x0b0b0b0b,
        address: a.publicIp,
        port: PORT,
        keepalive: false,
      });
      expect(b.control.received[0]!.keepalive).toBe(true); // the confirming keepalive
      a.dp.service(clock);
      expect(a.control.sent).toBe(1); // the keepalive is not data: only the packet counts
    });

    it('drops hostile datagrams by reason and still delivers the good one', () => {
      const { a, b } = pair(vnet);
      establish(a, b);
      drain(b);
      const good = makeUdp4(ip('10.244.1.5'), ip('10.244.2.9'), randomBytes(100));
      const pad = (p: Uint8Array): Uint8Array => {
        const o = new Uint8Array(Math.ceil(p.length / 16) * 16);
        o.set(p);
        return o;
      };
      const inj = (d: Uint8Array, from = a.publicIp, port = PORT) => b.udp.inject(from, port, d);
      const msg = sealAtoB(5, pad(good));
      inj(msg); // delivered
      inj(msg); // replayed
      inj(sealAtoB(6, pad(good), 0x12345678)); // unknown receiver index
      const forged = sealAtoB(7, pad(good));
      forged[40]! ^= 1;
      inj(forged); // bad tag
      inj(msg.subarray(0, 31)); // truncated transport
      inj(msg.subarray(0, 3)); // shorter than a type word
      inj(Uint8Array.from([5, 0, 0, 0, ...new Uint8Array(40)])); // unknown type
      inj(Uint8Array.from([4, 1, 0, 0, ...msg.subarray(4)])); // reserved bytes set
      inj(new Uint8Array(100).fill(0).map((_, i) => (i === 0 ? 1 : 0))); // initiation of the wrong size
      inj(sealAtoB(8, pad(makeUdp4(ip('10.244.7.7'), ip('10.244.2.9'), randomBytes(10))))); // disallowed source
      inj(sealAtoB(9, pad(makeUdp4(ip('10.244.1.5'), ip('10.244.3.3'), randomBytes(10))))); // not ours
      inj(sealAtoB(10, new Uint8Array(MTU + 16))); // oversized
      const bigLen = pad(good.slice());
      writeU16(bigLen, 2, 200); // total length past the plaintext
      inj(sealAtoB(11, bigLen));
      drain(b);
      expect(dropped(b, 'replayed_counter')).toBe(1);
      expect(dropped(b, 'unknown_receiver_index')).toBe(1);
      expect(dropped(b, 'bad_tag')).toBe(1);
      expect(dropped(b, 'truncated')).toBe(3); // the short initiation too
      expect(dropped(b, 'unknown_message_type')).toBe(2);
      expect(dropped(b, 'oversized')).toBe(1);
      expect(dropped(b, 'disallowed_source')).toBe(1);
      expect(dropped(b, 'wrong_destination')).toBe(1);
      expect(dropped(b, 'bad_length')).toBe(1);
      expect(tunOut(b, vnet)).toHaveLength(1);
    });

    it('takes an authenticated packet from a new address as the peer endpoint (roaming), not a forged one', () => {
      const { a, b } = pair(vnet);
      establish(a, b);
      drain(b);
      const pkt = makeUdp4(ip('10.244.1.5'), ip('10.244.2.9'), randomBytes(16));
      const forged = sealAtoB(20, pkt);
      forged[20]! ^= 0x80;
      b.udp.inject(ip('203.0.113.66'), 40000, forged);
      drain(b);
      const reply = makeUdp4(ip('10.244.2.9'), ip('10.244.1.5'), randomBytes(16));
      b.tun.toEngine.push(vnet ? withVnet(reply) : reply);
      b.tx.step(0);
      expect(a.udp.inbox).toHaveLength(1); // still to a's lease endpoint
      a.udp.inbox.length = 0;
      const netw = a.udp.net;
      const moved = new MemoryUdp(netw, ip('203.0.113.77'), 40001, vnet);
      b.udp.inject(ip('203.0.113.77'), 40001, sealAtoB(21, pkt));
      drain(b);
      expect(b.counters[C.wgRoamed]).toBe(1);
      b.tun.toEngine.push(vnet ? withVnet(reply) : reply);
      b.tx.step(0);
      expect(moved.inbox).toHaveLength(1);
      expect(a.udp.inbox).toHaveLength(0);
    });

    it('stops sending on a session past Reject-After-Time and asks for a new one', () => {
      const { a, b } = pair(vnet);
      establish(a, b);
      clock += 180_000;
      a.dp.service(clock);
      const p = makeUdp4(ip('10.244.1.5'), ip('10.244.2.9'), randomBytes(16));
      a.tun.toEngine.push(vnet ? withVnet(p) : p);
      const before = b.udp.inbox.length;
      a.tx.step(0);
      expect(b.udp.inbox.length).toBe(before);
      expect(a.control.wanted).toEqual([id(KEY_B)]);
      expect(a.counters[C.wgHeld]).toBe(1);
    });

    it('bounds what it holds for a peer without a session, counting the rest as no_session', () => {
      const { a } = pair(vnet);
      for (let i = 0; i < 40; i++) {
        const p = makeUdp4(ip('10.244.1.5'), ip('10.244.2.9'), randomBytes(8));
        a.tun.toEngine.push(vnet ? withVnet(p) : p);
      }
      a.tx.step(0);
      expect(a.counters[C.wgHeld]).toBe(32);
      expect(dropped(a, 'no_session', 'tx')).toBe(8);
    });
  });

describe('engines on the WireGuard wire with TUN offloads', () => {
  it('sends a TSO super-packet as one GSO message of sealed segments, a counter each, merged on receipt', () => {
    const { a, b } = pair(true);
    establish(a, b);
    drain(b);
    const mss = 1380;
    const payload = randomBytes(mss * 45 + 77);
    const pkt = makeTcp4({ src: ip('10.244.1.5'), dst: ip('10.244.2.9'), seq: 1, flags: 0x18, payload });
    writeU16(pkt, 36, sum16(pkt, 12, 8, 6 + (pkt.length - 20)));
    const h = newVnetHdr();
    Object.assign(h, { flags: VNET_F_NEEDS_CSUM, gsoType: GSO_TCPV4, hdrLen: 40, gsoSize: mss });
    Object.assign(h, { csumStart: 20, csumOffset: 16 });
    const calls = a.udp.sendCalls;
    a.tun.toEngine.push(withVnet(pkt, h));
    a.tx.step(0);
    expect(a.udp.sendCalls - calls).toBe(1);
    const wire = b.udp.inbox.map((d) => d.data);
    expect(wire).toHaveLength(46);
    const full = 16 + Math.min(Math.ceil((40 + mss) / 16) * 16, MTU) + 16;
    const counters = wire.map((m) => Number(Buffer.from(m).readBigUInt64LE(8)));
    expect(counters).toEqual(counters.map((_, i) => counters[0]! + i));
    let joined = Buffer.alloc(0);
    for (let i = 0; i < 46; i++) {
      if (i < 45) expect(wire[i]!.length).toBe(full);
      const pt = openAtoB(wire[i]!);
      const total = pt.readUInt16BE(2);
      expect(checkIpv4(pt, 0, total)).toBe(Verdict.Ok);
      joined = Buffer.concat([joined, pt.subarray(40, total)]);
    }
    expect(hex(joined)).toBe(hex(payload));
    drain(b);
    expect(b.counters[C.rxPackets]).toBe(46);
    expect(b.counters[C.rxMerged]).toBe(1);
    expect(hex(b.tun.fromEngine[0]!.subarray(VNET_HDR_LEN + 40))).toBe(hex(payload));
  });
});
