/**
 * Three overlayd wireguard nodes (#18's Tests): while checked transfers run back to back between nodes 1 and 2,
 * node 3 joins (its lease appears: both add it as a peer and its pods are reachable through
 * WireGuard) and leaves (stopped, its lease deleted: both remove the peer); every transfer between
 * the two that stayed arrives intact.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from './lab/lab.js';
import type { LabNode } from './lab/lab-node.js';
import { addPod, ping, reachable, removePod, type Pod } from './lab/pods.js';
import { transfer } from './lab/traffic.js';

let lab: Lab;
let nodes: LabNode[] = [];
let pods: Pod[] = [];

const start = (n: LabNode): Promise<void> =>
  n.startDaemon({ env: { WIREGUARD_KEY_FILE: join(lab.dir, `n${n.index}`, 'wgkey') } });
const peers = (n: LabNode): Promise<number> => n.metric('overlayd_peers');

/** Until `n` has `count` peers (overlayd's own gauge; no sleeps guessed). */
async function waitPeers(n: LabNode, count: number): Promise<void> {
  for (let i = 0; i < 300; i++) {
    if ((await peers(n)) === count) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`node ${n.index}: overlayd_peers ${await peers(n)}, not ${count}`);
}

beforeAll(async () => {
  lab = await Lab.create({
    nodes: 3,
    networkConfig: { Network: '10.244.0.0/16', Backend: { Type: 'wireguard' } },
  });
  nodes = [...lab.nodes];
  await Promise.all(nodes.slice(0, 2).map(start));
  pods = await Promise.all(nodes.slice(0, 2).map((n) => addPod(n, 'p1')));
}, 120_000);
afterAll(async () => {
  await lab?.destroy();
});

describe('three overlayd wireguard nodes: a peer joins and leaves while traffic runs', () => {
  it('adds and removes node 3 on both others without disturbing their transfers', async () => {
    const [n1, n2, n3] = nodes as [LabNode, LabNode, LabNode];
    const [a, b] = pods as [Pod, Pod];
    // Fresh pods and no session yet: the first probes wait out ARP and the handshake.
    await reachable(a, b);
    expect((await ping(a, b, 3)).loss).toBe(0);
    // Transfers back to back until node 3 has come and gone: traffic runs through both changes.
    let changing = true;
    const results: Array<{ sent: string; received: string }> = [];
    const moving = (async () => {
      while (changing) results.push(await transfer(a, b, 16));
    })();

    try {
      await start(n3);
      await waitPeers(n1, 2);
      await waitPeers(n2, 2);
      const c = await addPod(n3, 'p1');
      // Node 3 is reachable from both (its pod is fresh: ARP and a handshake each way come first).
      await reachable(a, c);
      expect((await ping(a, c, 3)).loss).toBe(0);
      await reachable(c, b);
      expect((await ping(c, b, 3)).loss).toBe(0);
      for (const n of nodes)
        expect(await n.metric('overlayd_wireguard_events_total{event="sessions"}')).toBeGreaterThan(0);

      const subnet = (await n3.subnetEnv())['FLANNEL_SUBNET']!.replace('.1/', '.0-');
      await removePod(c);
      await n3.stopDaemon();
      const cl = lab.client();
      try {
        await cl.delete().key(`${lab.prefix}/subnets/${subnet}`).exec();
      } finally {
        cl.close();
      }
      await waitPeers(n1, 1);
      await waitPeers(n2, 1);
    } finally {
      changing = false;
      await moving.catch(() => undefined);
    }
    await moving;
    expect(results.length).toBeGreaterThan(0);
    for (const t of results) {
      expect(t.sent).toMatch(/^[0-9a-f]{64}$/);
      expect(t.received).toBe(t.sent);
    }
    expect((await ping(b, a, 3)).loss).toBe(0);
  }, 240_000);
});
