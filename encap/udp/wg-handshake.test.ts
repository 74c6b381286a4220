/**
 * Two WireGuard data planes back to back over the in-memory network with the real control plane
 * (protocol/control.ts), the native batch AEAD (sys/wg-aead.ts) and the real replay window: the
 * first packet triggers a Noise_IKpsk2 handshake, is held and then delivered; packets flow both
 * ways; a handshake message from a stranger is refused by reason; a rekey with shortened timers
 * replaces the session while packets keep arriving.
 */
import { describe, expect, it } from 'vitest';
import { parseCidr, parseIpv4 } from '../../core/ipv4.js';
import { makeUdp4, randomBytes } from '../../test/support/test-packets.js';
import { MemoryNetwork, MemoryTun, MemoryUdp } from '../../test/support/memory-io.js';
import { udpEngines } from '../../test/support/udp-engines.js';
import { openBatch, sealBatch } from '../../sys/wg-aead.js';
import { generateKeyPair } from '../wireguard/protocol/keys.js';
import { ReplayWindow } from '../wireguard/protocol/replay-window.js';
import { WG_TIMERS } from '../wireguard/protocol/peer-timers.js';
import { C, COUNTER_SLOTS, dropIndex, reasonIndex } from './counters.js';
import { SharedPeerTable } from './peer-table.js';
import { createControlPort } from './wg-control.js';
import { WgDataplane } from './wg-dataplane.js';
import { WireguardWire } from './wire/wireguard-wire.js';
import { randomBytes as cryptoRandom } from 'node:crypto';

const ip = (s: string): number => parseIpv4(s)!;
const PORT = 51820;
const MTU = 1420;
let clock = 5_000_000;
const now = (): number => clock;
const keys = () => generateKeyPair((n) => new Uint8Array(cryptoRandom(n)));

function node(netw: MemoryNetwork, publicIp: string, subnet: string, priv: Uint8Array, timers = WG_TIMERS) {
  const table = new SharedPeerTable(64);
  const counters = new Float64Array(COUNTER_SLOTS);
  const tun = new MemoryTun();
  const udp = new MemoryUdp(netw, ip(publicIp), PORT, false);
  let dp: WgDataplane | undefined;
  const control = createControlPort({
    privateKey: priv,
    persistentKeepaliveS: 0,
    timers,
    underLoad: () => dp?.underLoad() ?? false,
    now,
  });
  dp = new WgDataplane(
    { mtu: MTU, rejectAfterMs: timers.rejectAfterTimeMs, now, newWindow: () => new ReplayWindow() },
    table,
    control,
    { sealBatch, openBatch },
    udp,
    counters,
    64 * 64,
  );
  const wire = new WireguardWire(dp);
  const { tx, rx } = udpEngines({ table, counters, tun, udp, wire }, { vnet: false, sg: false, mtu: MTU });
  return { table, counters, tun, udp, dp, tx, rx, own: parseCidr(subnet)!, publicIp: ip(publicIp) };
}
type Node = ReturnType<typeof node>;

function pair(timers = WG_TIMERS) {
  const netw = new MemoryNetwork();
  const ka = keys();
  const kb = keys();
  const a = node(netw, '198.18.90.1', '10.244.1.0/24', ka.privateKey, timers);
  const b = node(netw, '198.18.90.2', '10.244.2.0/24', kb.privateKey, timers);
  const entry = (n: Node, key: Uint8Array) => ({
    subnetIp: n.own.ip,
    prefixLen: 24,
    publicIp: n.publicIp,
    port: PORT,
    publicKey: key,
  });
  a.table.publish(a.own, [entry(b, kb.publicKey)]);
  b.table.publish(b.own, [entry(a, ka.publicKey)]);
  return { a, b, netw };
}

/** Runs both nodes until nothing moves: each receives, services its control plane, sends. */
function settle(...ns: Node[]): void {
  for (let round = 0; round < 50; round++) {
    let moved = 0;
    for (const n of ns) {
      moved += n.rx.step(0);
      n.dp.service(clock);
      moved += n.tx.step(0);
    }
    if (moved === 0) return;
  }
}

const send = (from: Node, src: string, dst: string, n: number): Uint8Array[] => {
  const ps = Array.from({ length: n }, () => makeUdp4(ip(src), ip(dst), randomBytes(200)));
  from.tun.toEngine.push(...ps);
  return ps;
};
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

describe('WireGuard data planes with the real control plane, back to back', () => {
  it('handshakes on the first packet, delivers the held packets, then carries packets both ways', () => {
    const { a, b } = pair();
    const first = send(a, '10.244.1.5', '10.244.2.9', 3);
    settle(a, b);
    expect(a.counters[C.wgHandshakesSent]).toBeGreaterThanOrEqual(1); // the initiation
    expect(b.counters[C.wgHandshakesSent]).toBeGreaterThanOrEqual(1); // the response
    expect(a.counters[C.wgSessions]).toBe(1);
    expect(b.counters[C.wgSessions]).toBe(1);
    expect(b.tun.fromEngine.map((p) => hex(p.subarray(20)))).toEqual(first.map((p) => hex(p.subarray(20))));
    const back = send(b, '10.244.2.9', '10.244.1.5', 5);
    settle(a, b);
    expect(a.tun.fromEngine.map((p) => hex(p.subarray(20)))).toEqual(back.map((p) => hex(p.subarray(20))));
    send(a, '10.244.1.5', '10.244.2.9', 10);
    settle(a, b);
    expect(b.tun.fromEngine).toHaveLength(13);
    expect(b.counters[C.wgSessions]).toBe(1);
    for (const n of [a, b])
      for (const r of ['bad_tag', 'replayed_counter', 'unknown_receiver_index'] as const)
        expect(n.counters[dropIndex('rx', reasonIndex(r))], r).toBe(0);
  });

  it("refuses a stranger's initiation by reason (its MAC1 is not for us)", () => {
    const { a, b } = pair();
    const init = new Uint8Array(148);
    init[0] = 1;
    init.set(randomBytes(140), 8);
    b.udp.inject(ip('203.0.113.5'), 40000, init);
    settle(b);
    expect(b.counters[dropIndex('rx', reasonIndex('handshake_bad_mac1'))]).toBe(1);
    expect(b.counters[C.wgSessions]).toBe(0);
    void a;
  });

  it('rekeys after Rekey-After-Time (shortened) while packets keep arriving', () => {
    const timers = {
      ...WG_TIMERS,
      rekeyAfterTimeMs: 10_000,
      rejectAfterTimeMs: 15_000,
      keepaliveTimeoutMs: 2_000,
      rekeyTimeoutMs: 1_000,
    };
    const { a, b } = pair(timers);
    let delivered = 0;
    for (let s = 0; s < 40; s++) {
      send(a, '10.244.1.5', '10.244.2.9', 2);
      send(b, '10.244.2.9', '10.244.1.5', 2);
      settle(a, b);
      clock += 1000;
      delivered = b.tun.fromEngine.length;
    }
    expect(a.counters[C.wgSessions]! + b.counters[C.wgSessions]!).toBeGreaterThanOrEqual(6); // several rekeys
    // Around each rekey a packet or two may wait for the new session; none is lost for good.
    expect(delivered).toBeGreaterThanOrEqual(78);
    expect(a.tun.fromEngine.length).toBeGreaterThanOrEqual(78);
    for (const n of [a, b]) expect(n.counters[dropIndex('rx', reasonIndex('bad_tag'))]).toBe(0);
  });
});
