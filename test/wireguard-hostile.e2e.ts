/**
 * The wireguard backend under attack (#18's Tests): node 1 runs overlayd with Backend.Type
 * "wireguard", node 2 is the flanneld-style wireguard-go peer (test/lab/wireguard-go-node.ts),
 * node 3 is a hostile host on the same underlay running no daemon. While a transfer runs between
 * the real peers, node 3 sends each kind of hostile datagram — garbage, truncated, an unknown
 * receiver index, oversized messages, a replay of captured transport data, the same with a forged tag, an initiation
 * with a bad MAC1 — and each is dropped and counted by reason, never answered; then it floods
 * initiations with a valid MAC1, overlayd answers with cookie replies, and wireguard-go still
 * completes a fresh handshake (with the cookie's MAC2) during the flood.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from './lab/lab.js';
import type { LabNode } from './lab/lab-node.js';
import { addPod, ping, reachable, type Pod } from './lab/pods.js';
import { transfer } from './lab/traffic.js';
import { UnderlayCapture } from './lab/underlay-capture.js';
import { udpOf } from './lab/pcap.js';
import {
  badMac1Initiation,
  floodInitiations,
  forgedTag,
  garbage,
  oversizedInitiation,
  oversizedTransport,
  sendDatagrams,
  truncatedInitiation,
  truncatedTransport,
  unknownReceiver,
} from './lab/wg-attacker.js';
import { wireguardMessageType } from './lab/wireguard-message-check.js';
import { WireguardGoNode } from './lab/wireguard-go-node.js';

/**
 * Bursts of 64 valid-MAC1 initiations 40 ms apart (~1,600/s): each burst puts overlayd under load
 * (cookie replies for the next second) without overflowing its socket's receive queue, where the
 * kernel would drop the legitimate peer's initiations before any cookie logic sees them. (At
 * python's full speed, ~10,000/s on this machine, overlayd answered ~13 % and a fresh handshake
 * of wireguard-go did not get through in 25 s: see the report of #18's flood test.)
 */
const FLOOD_GAP_MS = 40;

let lab: Lab;
let ovl: LabNode;
let attacker: LabNode;
let wgo: WireguardGoNode;
let pods: Pod[] = [];

const drops = (reason: string): Promise<number> =>
  ovl.metric(`overlayd_udp_drops_total{direction="rx",reason="${reason}"}`);
const times = <T>(n: number, f: () => T): T[] => Array.from({ length: n }, f);

async function ovlPublicKey(): Promise<string> {
  const subnet = (await ovl.subnetEnv())['FLANNEL_SUBNET']!.replace('.1/', '.0-');
  const c = lab.client();
  try {
    const v = JSON.parse((await c.get(`${lab.prefix}/subnets/${subnet}`).string())!) as {
      BackendData: { PublicKey: string };
    };
    return v.BackendData.PublicKey;
  } finally {
    c.close();
  }
}

/** Transport data wireguard-go sent to overlayd, as it crossed the underlay (keepalives left out). */
async function captureTransport(from: Pod, to: Pod): Promise<Uint8Array[]> {
  const cap = await UnderlayCapture.start(
    ovl.ns,
    lab.dir,
    `udp and src host ${wgo.node.ip} and src port 51820`,
  );
  await ping(from, to, 10, 0.05);
  const out: Uint8Array[] = [];
  for (const f of (await cap.stop()).frames) {
    const d = udpOf(f);
    if ('other' in d) continue;
    const t = wireguardMessageType(d.payload);
    if ('type' in t && t.type === 4 && d.payload.length > 32) out.push(Uint8Array.from(d.payload));
  }
  return out;
}

beforeAll(async () => {
  lab = await Lab.create({
    nodes: 3,
    networkConfig: { Network: '10.244.0.0/16', Backend: { Type: 'wireguard' } },
  });
  [ovl, , attacker] = lab.nodes as [LabNode, LabNode, LabNode];
  wgo = await WireguardGoNode.start(lab.nodes[1]!, { subnet: '10.244.200.0/24' });
  await wgo.writeLease();
  await ovl.startDaemon({ env: { WIREGUARD_KEY_FILE: join(lab.dir, 'n1', 'wgkey') } });
  await wgo.syncPeers();
  pods = await Promise.all([ovl, wgo.node].map((n) => addPod(n, 'p1')));
  // The lab is up once the pods reach each other: the first probes wait out ARP and the handshake.
  await reachable(pods[0]!, pods[1]!);
  expect((await ping(pods[0]!, pods[1]!, 3)).loss).toBe(0);
}, 120_000);
afterAll(async () => {
  await wgo?.stop();
  await lab?.destroy();
});

describe('wireguard backend: hostile datagrams and handshake floods', () => {
  it('drops each hostile kind by reason while a transfer runs, and answers none', async () => {
    const [a, b] = pods as [Pod, Pod];
    const captured = await captureTransport(b, a);
    expect(captured.length).toBeGreaterThanOrEqual(10);
    const N = 20;
    const kinds: Array<{ reasons: string[]; datagrams: Uint8Array[] }> = [
      { reasons: ['unknown_message_type'], datagrams: times(N, garbage) },
      // Cut short, of either kind: counted before or by the control plane, under one of these.
      {
        reasons: ['truncated', 'handshake_truncated'],
        datagrams: [...times(N, truncatedTransport), ...times(N, truncatedInitiation)],
      },
      // Too long: a handshake message past its size, transport data past the tunnel MTU.
      {
        reasons: ['oversized', 'handshake_bad_length'],
        datagrams: [...times(N, oversizedInitiation), ...times(N, oversizedTransport)],
      },
      { reasons: ['unknown_receiver_index'], datagrams: times(N, unknownReceiver) },
      { reasons: ['replayed_counter'], datagrams: captured },
      { reasons: ['bad_tag'], datagrams: captured.map((c) => forgedTag(c)) },
      { reasons: ['handshake_bad_mac1'], datagrams: times(N, badMac1Initiation) },
    ];
    const sum = async (reasons: string[]): Promise<number> =>
      (await Promise.all(reasons.map(drops))).reduce((x, y) => x + y, 0);
    const before = await Promise.all(kinds.map((k) => sum(k.reasons)));
    // wireguard-go → overlayd: overlayd receives transport data all along.
    const moving = transfer(b, a, 64);
    const replies = await sendDatagrams(
      attacker.ns,
      { ip: ovl.ip, port: 51820 },
      kinds.flatMap((k) => k.datagrams),
      { gapMs: 5, listenMs: 1000 },
    );
    const t = await moving;
    expect(t.received).toBe(t.sent);
    expect(replies.byType).toEqual({});
    const short: string[] = [];
    for (const [i, k] of kinds.entries()) {
      const dropped = (await sum(k.reasons)) - before[i]!;
      if (dropped < k.datagrams.length)
        short.push(`${k.reasons.join('|')}: ${dropped} of ${k.datagrams.length}`);
    }
    expect(short).toEqual([]);
    // The replays came from another address: authenticated or not, they must not move the endpoint.
    expect((await ping(a, b, 3)).loss).toBe(0);
    expect((await wgo.peers())[0]!.endpoint).toBe(`${ovl.ip}:51820`);
  }, 180_000);

  it('answers a valid-MAC1 initiation flood with cookie replies, and wireguard-go still handshakes', async () => {
    const [a, b] = pods as [Pod, Pod];
    const ovlKey = await ovlPublicKey();
    const cookies0 = await drops('handshake_cookie_sent');
    let flooding = true;
    const flood = floodInitiations(
      attacker.ns,
      { ip: ovl.ip, port: 51820 },
      ovlKey,
      30,
      64,
      FLOOD_GAP_MS,
    ).finally(() => {
      flooding = false;
    });
    try {
      // Under load once cookie replies go out.
      while (flooding && (await drops('handshake_cookie_sent')) === cookies0)
        await new Promise((r) => setTimeout(r, 100));
      expect(flooding).toBe(true);
      // The session that exists keeps carrying traffic.
      const t = await transfer(b, a, 16);
      expect(t.received).toBe(t.sent);
      // A fresh wireguard-go peer must handshake now: its first initiation (no MAC2) gets a cookie
      // reply, its retry carries MAC2 from that cookie and is answered.
      await wgo.removePeer(ovlKey);
      await wgo.syncPeers();
      let answered = false;
      for (let i = 0; i < 30 && flooding && !answered; i++)
        answered = (await ping(b, a, 1, 0.2, 5_000)).loss === 0;
      const handshakeDuringFlood = flooding && (await wgo.peers())[0]!.latestHandshake > 0;
      expect({ answered, handshakeDuringFlood }).toEqual({ answered: true, handshakeDuringFlood: true });
    } finally {
      await flood.catch(() => undefined);
    }
    const r = await flood;
    expect(r.byType['3'] ?? 0).toBeGreaterThan(0);
    expect(new Set(r.cookieSizes)).toEqual(new Set([64]));
    expect(await drops('handshake_cookie_sent')).toBeGreaterThan(cookies0);
    expect((await ping(a, b, 3)).loss).toBe(0);
  }, 180_000);
});
