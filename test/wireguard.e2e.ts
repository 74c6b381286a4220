/**
 * Interop of the wireguard backend with a WireGuard no one here wrote (#18's Tests): node 1 runs
 * overlayd with Backend.Type "wireguard", node 2 is a flanneld wireguard node built by hand on
 * Debian's wireguard-go (test/lab/wireguard-go-node.ts: configured with `wg` as flanneld
 * configures a kernel peer, its lease written into etcd). Pods ping both ways, 64 MiB arrive
 * intact each way, rekeys happen while traffic runs (overlayd's Rekey-After-Time shortened through
 * OVERLAYD_TEST_WG_TIMERS; wireguard-go keeps its own), `wg show` sees the handshakes, and a
 * capture on the underlay holds only WireGuard messages and never the inner payload.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from './lab/lab.js';
import type { LabNode } from './lab/lab-node.js';
import { sendKnownPayload } from './lab/known-payload.js';
import { addPod, ping, reachable, type Pod } from './lab/pods.js';
import { transfer } from './lab/traffic.js';
import { UNDERLAY_FILTER, UnderlayCapture } from './lab/underlay-capture.js';
import { checkUnderlay, transportSizeFor } from './lab/underlay-check.js';
import { WireguardGoNode } from './lab/wireguard-go-node.js';

/** The underlay minus what is not overlay traffic: ARP, IPv6 neighbour discovery, etcd, health checks. */
const WG_GO_SUBNET = '10.244.200.0/24';
/** overlayd rekeys its sessions every 4 s here instead of 120 s (one real 120 s rekey: reliability suite). */
const TEST_TIMERS = JSON.stringify({ rekeyAfterTime: 4 });

let lab: Lab;
let ovl: LabNode;
let wgo: WireguardGoNode;
let pods: Pod[] = [];

const sessions = (): Promise<number> => ovl.metric('overlayd_wireguard_events_total{event="sessions"}');
const handshakeAt = async (): Promise<number> => (await wgo.peers())[0]?.latestHandshake ?? 0;

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

beforeAll(async () => {
  lab = await Lab.create({
    nodes: 2,
    networkConfig: { Network: '10.244.0.0/16', Backend: { Type: 'wireguard' } },
  });
  ovl = lab.nodes[0]!;
  wgo = await WireguardGoNode.start(lab.nodes[1]!, { subnet: WG_GO_SUBNET });
  await wgo.writeLease();
  await ovl.startDaemon({
    env: { WIREGUARD_KEY_FILE: join(lab.dir, 'n1', 'wgkey'), OVERLAYD_TEST_WG_TIMERS: TEST_TIMERS },
  });
  // flanneld on the wireguard-go node would see overlayd's lease through its watch: once here.
  await wgo.syncPeers();
  pods = await Promise.all(lab.nodes.map((n) => addPod(n, 'p1')));
}, 120_000);
afterAll(async () => {
  await wgo?.stop();
  await lab?.destroy();
});

describe('overlayd wireguard ↔ wireguard-go (configured as flanneld configures a kernel peer)', () => {
  it("each takes the other's lease as its peer; overlayd warns that test timers are set", async () => {
    const peers = await wgo.peers();
    expect(peers).toHaveLength(1);
    expect(peers[0]).toMatchObject({
      publicKey: await ovlPublicKey(),
      endpoint: `${ovl.ip}:51820`,
      allowedIps: (await ovl.subnetEnv())['FLANNEL_SUBNET']!.replace('.1/', '.0/'),
    });
    const warned = (await ovl.logs()).filter(
      (l) => l['level'] === 40 && JSON.stringify(l).includes('OVERLAYD_TEST_WG_TIMERS'),
    );
    expect(warned.length).toBeGreaterThan(0);
  });

  it('pods ping both ways; wg show on the wireguard-go side has the handshake', async () => {
    const [a, b] = pods as [Pod, Pod];
    // overlayd sends first: it is the initiator, so its shortened Rekey-After-Time applies. The
    // claim is reachability: the first probes wait out ARP and the handshake.
    await reachable(a, b);
    expect((await ping(a, b, 3)).loss).toBe(0);
    expect((await ping(b, a, 3)).loss).toBe(0);
    expect(await handshakeAt()).toBeGreaterThan(0);
    expect((await wgo.peers())[0]!.rxBytes).toBeGreaterThan(0);
    expect(await sessions()).toBeGreaterThan(0);
  }, 60_000);

  it('carries 64 MiB intact each way', async () => {
    const [a, b] = pods as [Pod, Pod];
    const there = await transfer(a, b, 64);
    expect(there.sent).toMatch(/^[0-9a-f]{64}$/);
    expect(there.received).toBe(there.sent);
    const back = await transfer(b, a, 64);
    expect(back.sent).toMatch(/^[0-9a-f]{64}$/);
    expect(back.received).toBe(back.sent);
  }, 180_000);

  it('rekeys while traffic runs, with no transfer corrupted', async () => {
    const [a, b] = pods as [Pod, Pod];
    // Each transfer is paced to last 12 s, so with Rekey-After-Time at 4 s overlayd (the
    // initiator) must rekey at least twice while it runs, however fast this machine moves 16 MiB.
    for (const [from, to] of [
      [a, b],
      [b, a],
    ] as const) {
      const [hs0, s0] = [await handshakeAt(), await sessions()];
      const t = await transfer(from, to, 16, { spreadSeconds: 12 });
      expect(t.received).toBe(t.sent);
      const rekeys = (await sessions()) - s0;
      console.log(`paced 12 s transfer: ${rekeys} new overlayd sessions (Rekey-After-Time 4 s)`);
      expect(rekeys).toBeGreaterThanOrEqual(2);
      expect(await handshakeAt()).toBeGreaterThan(hs0);
    }
    expect((await ping(a, b, 3)).loss).toBe(0);
  }, 120_000);

  it('puts only WireGuard messages on the underlay, of the right sizes, none holding the inner payload', async () => {
    const [a, b] = pods as [Pod, Pod];
    // overlayd's UDP GSO sends cross a veth unsegmented, so a capture would see one datagram of
    // many messages; a link without UDP segmentation splits them as a NIC does before the wire.
    await ovl.mustExec('ethtool', ['-K', 'eth0', 'tx-udp-segmentation', 'off']);
    try {
      const payload = randomBytes(1200);
      const cap = await UnderlayCapture.start(ovl.ns, lab.dir, UNDERLAY_FILTER);
      const there = await sendKnownPayload(a, b, payload, 100);
      const back = await sendKnownPayload(b, a, payload, 100);
      const t = await transfer(a, b, 8);
      const found = checkUnderlay(
        await cap.stop(),
        { ip: ovl.ip, port: 51820 },
        { ip: wgo.node.ip, port: 51820 },
        payload,
      );
      expect(t.received).toBe(t.sent);
      expect(there).toBeGreaterThan(80);
      expect(back).toBeGreaterThan(80);
      expect(found.strays).toEqual([]);
      expect(found.leaks).toEqual([]);
      const size = transportSizeFor(20 + 8 + payload.length);
      expect(found.transportSizes['a>b']!.get(size) ?? 0).toBeGreaterThanOrEqual(there);
      expect(found.transportSizes['b>a']!.get(size) ?? 0).toBeGreaterThanOrEqual(back);
    } finally {
      await ovl.mustExec('ethtool', ['-K', 'eth0', 'tx-udp-segmentation', 'on']);
    }
  }, 120_000);
});
