/**
 * The udp engines as IPv6 engines (family 6) on the WireGuard wire — the userspace flannel-wg-v6 —
 * two nodes back to back over the in-memory IPv6 network, sessions handed over as the control
 * plane would (fixed keys, so node:crypto's ChaCha20-Poly1305 checks the bytes independently of
 * the data plane). The messages are the IPv4 engine's (wg-engines.test.ts) with an inner IPv6
 * packet as the plaintext; what differs is checked here: the inner IPv6 checks (source in the
 * peer's IPv6 allowed nets, destination in ours, payload length, version), endpoints as IPv6
 * addresses (handshake senders, roaming, control messages and keepalives sent to them).
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseCidr6, parseIpv6 } from '../../core/ipv6.js';
import { wordsOf6 } from '../../core/ipv6-words.js';
import { writeU16 } from '../packet/checksum.js';
import { checkIpv6, Verdict6 } from '../packet/ipv6-packet.js';
import { newVnetHdr, VNET_HDR_LEN, writeVnetHdr } from '../packet/vnet-hdr.js';
import { makeUdp4, randomBytes } from '../../test/support/test-packets.js';
import { makeUdp6 } from '../../test/support/test-packets6.js';
import { MemoryNetwork6, MemoryTun, MemoryUdp6 } from '../../test/support/memory-io.js';
import { nodeAead } from '../../test/support/node-aead.js';
import { QueuedControl } from '../../test/support/queued-control.js';
import { udpEngines } from '../../test/support/udp-engines.js';
import { C, COUNTER_SLOTS, dropIndex, reasonIndex, type DropReason } from './counters.js';
import { SharedPeerTable, type PeerEntry } from './peer-table.js';
import { WgDataplane, type ControlAction, type CounterWindow, type Endpoint } from './wg-dataplane.js';
import { WireguardWire } from './wire/wireguard-wire.js';

const w6 = (s: string): Uint32Array => Uint32Array.from(wordsOf6(parseIpv6(s)!));
const PORT = 51821;
const MTU = 1420;
const KEY_A = new Uint8Array(32).fill(0xa1);
const KEY_B = new Uint8Array(32).fill(0xb2);
const id = (k: Uint8Array): string => Buffer.from(k).toString('base64');
const A_TO_B = Buffer.alloc(32, 0x11);
const B_TO_A = Buffer.alloc(32, 0x22);
const words = (e: Endpoint | undefined): number[] => [...(e?.address6 ?? [])];

class TestWindow implements CounterWindow {
  private readonly seen = new Set<number>();
  mayAccept(n: number): boolean {
    return !this.seen.has(n);
  }
  accept(n: number): boolean {
    if (this.seen.has(n)) return false;
    this.seen.add(n);
    return true;
  }
}

/** Hands out the sessions the test queues; records the endpoints it is told about. */
class ScriptedControl extends QueuedControl {
  wanted: string[] = [];
  handshakesFrom: Endpoint[] = [];
  received: { index: number; from: Endpoint; keepalive: boolean }[] = [];
  peers: { endpoint: Endpoint | undefined; allowedIps: readonly string[] }[] = [];
  override setPeers(peers: readonly { endpoint: Endpoint | undefined; allowedIps: readonly string[] }[]) {
    this.peers = [...peers];
    return [];
  }
  override receiveHandshake(_b: Uint8Array, from: Endpoint): { actions: readonly ControlAction[] } {
    this.handshakesFrom.push(from);
    return { actions: [] };
  }
  override noteTransportReceived(
    index: number,
    from: Endpoint,
    keepalive: boolean,
  ): readonly ControlAction[] {
    this.received.push({ index, from, keepalive });
    return [];
  }
  override wantSession(peer: string): readonly ControlAction[] {
    this.wanted.push(peer);
    return [];
  }
}

let clock = 1_000_000;
function node(netw: MemoryNetwork6, publicIp: string, subnet: string, vnet: boolean) {
  const table = new SharedPeerTable(64);
  const counters = new Float64Array(COUNTER_SLOTS);
  const tun = new MemoryTun();
  const udp = new MemoryUdp6(netw, w6(publicIp), PORT);
  const control = new ScriptedControl();
  const dp = new WgDataplane(
    { mtu: MTU, rejectAfterMs: 180_000, now: () => clock, newWindow: () => new TestWindow(), family: 6 },
    table,
    control,
    nodeAead,
    udp,
    counters,
    64 * 64,
  );
  const wire = new WireguardWire(dp);
  const { tx, rx } = udpEngines({ table, counters, tun, udp, wire }, { vnet, sg: vnet, mtu: MTU, family: 6 });
  return { table, counters, tun, udp, control, dp, tx, rx, own: parseCidr6(subnet)!, publicIp: w6(publicIp) };
}
type Node = ReturnType<typeof node>;

const entry = (n: Node, key: Uint8Array): PeerEntry => ({
  subnetIp: 0,
  prefixLen: 0,
  publicIp: 0,
  port: PORT,
  publicKey: key,
  publicIp6: n.publicIp,
  subnetIp6: Uint32Array.from(wordsOf6(n.own.ip)),
  prefixLen6: n.own.prefixLen,
});
const own6 = (n: Node) => ({ ip: wordsOf6(n.own.ip), prefixLen: n.own.prefixLen });

function pair(vnet: boolean) {
  const netw = new MemoryNetwork6();
  const a = node(netw, 'fd00:198:18::1', 'fd00:10:244:1::/64', vnet);
  const b = node(netw, 'fd00:198:18::2', 'fd00:10:244:2::/64', vnet);
  a.table.publish(undefined, [entry(b, KEY_B)], own6(a));
  b.table.publish(undefined, [entry(a, KEY_A)], own6(b));
  return { a, b, netw };
}

function establish(a: Node, b: Node): void {
  const s = (peer: Uint8Array, l: number, r: number, send: Buffer, recv: Buffer, init: boolean) => ({
    session: {
      peer: id(peer),
      localIndex: l,
      remoteIndex: r,
      sendKey: send,
      recvKey: recv,
      isInitiator: init,
      createdAtMs: clock,
    },
  });
  a.control.queued.push(s(KEY_B, 0x0a0a0a0a, 0x0b0b0b0b, A_TO_B, B_TO_A, true));
  b.control.queued.push(s(KEY_A, 0x0b0b0b0b, 0x0a0a0a0a, B_TO_A, A_TO_B, false));
  clock += 1000;
  b.dp.service(clock);
  a.dp.service(clock); // a's keepalive confirms b's session
}

const drain = (n: Node): void => {
  while (n.rx.step(0) > 0) n.dp.service(clock);
};
const dropped = (n: Node, r: DropReason): number => n.counters[dropIndex('rx', reasonIndex(r))]!;
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const nonce = (c: number): Buffer => {
  const n = Buffer.alloc(12);
  n.writeBigUInt64LE(BigInt(c), 4);
  return n;
};
function openAtoB(msg: Uint8Array): Buffer {
  const counter = Number(Buffer.from(msg).readBigUInt64LE(8));
  const d = createDecipheriv('chacha20-poly1305', A_TO_B, nonce(counter), { authTagLength: 16 });
  d.setAuthTag(msg.subarray(msg.length - 16));
  const pt = d.update(msg.subarray(16, msg.length - 16));
  d.final();
  return pt;
}
function sealAtoB(counter: number, plain: Uint8Array): Uint8Array {
  const c = createCipheriv('chacha20-poly1305', A_TO_B, nonce(counter), { authTagLength: 16 });
  const ct = Buffer.concat([c.update(plain), c.final()]);
  const h = Buffer.alloc(16);
  h.writeUInt32LE(4, 0);
  h.writeUInt32LE(0x0b0b0b0b, 4);
  h.writeBigUInt64LE(BigInt(counter), 8);
  return Buffer.concat([h, ct, c.getAuthTag()]);
}
const pad = (p: Uint8Array): Uint8Array => {
  const o = new Uint8Array(Math.ceil(p.length / 16) * 16);
  o.set(p);
  return o;
};
const withVnet = (p: Uint8Array): Uint8Array => {
  const out = new Uint8Array(VNET_HDR_LEN + p.length);
  writeVnetHdr(out, 0, newVnetHdr());
  out.set(p, VNET_HDR_LEN);
  return out;
};
const tunOut = (n: Node, vnet: boolean): Uint8Array[] =>
  n.tun.fromEngine.map((p) => (vnet ? p.subarray(VNET_HDR_LEN) : p));

for (const vnet of [false, true])
  describe(`IPv6 engines on the WireGuard wire, flannel-wg-v6 (offloads ${vnet ? 'on' : 'off'})`, () => {
    it('holds inner IPv6 for a peer without a session, then sends it sealed to the peer PublicIPv6', () => {
      const { a, b } = pair(vnet);
      const sent = [0, 15, 16, 17, 1000, MTU - 48].map((n) =>
        makeUdp6('fd00:10:244:1::5', 'fd00:10:244:2::9', randomBytes(n)),
      );
      for (const p of sent) a.tun.toEngine.push(vnet ? withVnet(p) : p);
      a.tx.step(0);
      expect(a.control.wanted).toEqual([id(KEY_B)]);
      expect(a.counters[C.wgHeld]).toBe(sent.length);
      expect(b.udp.inbox).toHaveLength(0);
      expect(a.control.peers.map((p) => [words(p.endpoint), p.allowedIps])).toEqual([
        [[...b.publicIp], ['fd00:10:244:2::/64']],
      ]);
      establish(a, b);
      a.tx.step(0);
      const wire = b.udp.inbox.map((d) => d.data);
      expect(b.udp.inbox.every((d) => d.from.join() === a.publicIp.join())).toBe(true);
      expect(wire).toHaveLength(sent.length);
      for (let i = 0; i < sent.length; i++) {
        const m = wire[i]!;
        expect(hex(m.subarray(0, 8))).toBe('040000000b0b0b0b');
        expect(Number(Buffer.from(m).readBigUInt64LE(8))).toBe(i);
        const inner = sent[i]!.length;
        expect(m.length).toBe(16 + Math.min(Math.ceil(inner / 16) * 16, Math.max(inner, MTU)) + 16);
        const pt = openAtoB(m);
        expect(pt[7]).toBe(63); // hop limit − 1
        expect(hex(pt.subarray(8, inner))).toBe(hex(sent[i]!.subarray(8)));
        expect(pt.subarray(inner).every((x) => x === 0)).toBe(true);
      }
      drain(b);
      const got = tunOut(b, vnet);
      expect(got).toHaveLength(sent.length);
      for (let i = 0; i < sent.length; i++) {
        expect(checkIpv6(got[i]!, 0, got[i]!.length)).toBe(Verdict6.Ok);
        expect(got[i]![7]).toBe(62); // and − 1 again on the way in
        expect(hex(got[i]!.subarray(8))).toBe(hex(sent[i]!.subarray(8)));
      }
      expect(b.control.received[0]).toMatchObject({ index: 0x0b0b0b0b, keepalive: false }); // held packets, no keepalive;
      expect(words(b.control.received[0]!.from)).toEqual([...a.publicIp]);
    });

    it('checks the inner IPv6 source against the peer IPv6 allowed nets, and the rest by reason', () => {
      const { a, b } = pair(vnet);
      establish(a, b);
      drain(b);
      const inj = (d: Uint8Array): void => b.udp.inject(a.publicIp, PORT, d);
      const good = makeUdp6('fd00:10:244:1::5', 'fd00:10:244:2::9', randomBytes(100));
      inj(sealAtoB(5, pad(good)));
      // b's own peer subnet is fd00:10:244:1::/64: a source one bit outside it is not a's to send.
      inj(sealAtoB(6, pad(makeUdp6('fd00:10:244:3::5', 'fd00:10:244:2::9', randomBytes(10)))));
      inj(sealAtoB(7, pad(makeUdp6('fd00:10:245:1::5', 'fd00:10:244:2::9', randomBytes(10)))));
      inj(sealAtoB(8, pad(makeUdp6('fd00:10:244:1::5', 'fd00:10:244:7::9', randomBytes(10))))); // not ours
      inj(sealAtoB(9, pad(makeUdp4(0x0af40105, 0x0af40209, randomBytes(20))))); // IPv4 on flannel-wg-v6
      inj(sealAtoB(10, pad(new Uint8Array(32).fill(0x60)))); // shorter than an IPv6 header
      const long = pad(good.slice());
      writeU16(long, 4, 300); // payload length past the plaintext
      inj(sealAtoB(11, long));
      drain(b);
      expect(dropped(b, 'disallowed_source')).toBe(2);
      expect(dropped(b, 'wrong_destination')).toBe(1);
      expect(dropped(b, 'not_ipv6')).toBe(1);
      expect(dropped(b, 'too_short')).toBe(1);
      expect(dropped(b, 'bad_length')).toBe(1);
      expect(tunOut(b, vnet)).toHaveLength(1);
      expect(hex(tunOut(b, vnet)[0]!.subarray(8))).toBe(hex(good.subarray(8)));
    });

    it('moves the endpoint to an authenticated packet IPv6 source (roaming), not a forged one', () => {
      const { a, b, netw } = pair(vnet);
      establish(a, b);
      drain(b);
      const pkt = pad(makeUdp6('fd00:10:244:1::5', 'fd00:10:244:2::9', randomBytes(16)));
      const reply = makeUdp6('fd00:10:244:2::9', 'fd00:10:244:1::5', randomBytes(16));
      const moved = new MemoryUdp6(netw, w6('fd00:198:51::77'), 40001);
      const forged = sealAtoB(20, pkt);
      forged[30]! ^= 0x80;
      b.udp.inject(moved.ip, 40001, forged);
      drain(b);
      expect(dropped(b, 'bad_tag')).toBe(1);
      b.tun.toEngine.push(vnet ? withVnet(reply) : reply);
      b.tx.step(0);
      expect(a.udp.inbox).toHaveLength(1); // still the lease's PublicIPv6
      expect(moved.inbox).toHaveLength(0);
      a.udp.inbox.length = 0;
      b.udp.inject(moved.ip, 40001, sealAtoB(21, pkt));
      drain(b);
      expect(b.counters[C.wgRoamed]).toBe(1);
      expect(words(b.control.received.at(-1)!.from)).toEqual([...moved.ip]);
      b.tun.toEngine.push(vnet ? withVnet(reply) : reply);
      b.tx.step(0);
      expect(moved.inbox).toHaveLength(1);
      expect(a.udp.inbox).toHaveLength(0);
    });

    it('gives handshake senders to the control plane as IPv6 endpoints and sends its messages to them', () => {
      const { a, b } = pair(vnet);
      const initiation = new Uint8Array(148);
      initiation[0] = 1;
      b.udp.inject(a.publicIp, 40002, initiation);
      drain(b);
      expect(b.control.handshakesFrom).toHaveLength(1);
      expect(words(b.control.handshakesFrom[0])).toEqual([...a.publicIp]);
      expect(b.control.handshakesFrom[0]!.port).toBe(40002);
      const response = new Uint8Array(92);
      response[0] = 2;
      b.control.queued.push({ send: response, to: b.control.handshakesFrom[0]! });
      clock += 1000;
      b.dp.service(clock);
      expect(a.udp.inbox.map((d) => hex(d.data))).toEqual([hex(response)]);
      expect(b.counters[C.wgHandshakesSent]).toBe(1);
    });
  });
