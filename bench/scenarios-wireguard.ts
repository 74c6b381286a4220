/**
 * The wireguard bench rows: overlayd's wireguard backend on two nodes, and its hand-built
 * reference, two flanneld-style wireguard nodes on Debian's wireguard-go
 * (test/lab/wireguard-go-node.ts), each with the other's lease as its one peer, pods attached by
 * the CNI plugin. CPU is accounted to the two wireguard-go processes, as the overlayd rows account
 * it to overlayd.
 */
import { join } from 'node:path';
import { Lab } from '../test/lab/lab.js';
import { addPod } from '../test/lab/pods.js';
import { WireguardGoNode } from '../test/lab/wireguard-go-node.js';
import type { Setup } from './scenarios.js';

export async function wireguardGoPair(): Promise<Setup> {
  const lab = await Lab.create({
    nodes: 2,
    networkConfig: { Network: '10.244.0.0/16', Backend: { Type: 'wireguard' } },
  });
  const wgs: WireguardGoNode[] = [];
  const teardown = async (): Promise<void> => {
    for (const w of wgs) await w.stop();
    await lab.destroy();
  };
  try {
    for (const [i, n] of lab.nodes.entries())
      wgs.push(await WireguardGoNode.start(n, { subnet: `10.244.${i + 1}.0/24` }));
    for (const w of wgs) await w.writeLease();
    for (const w of wgs) await w.syncPeers();
    const [a, b] = await Promise.all(lab.nodes.map((n) => addPod(n, 'p1')));
    return { a: a!, b: b!, pids: wgs.map((w) => w.pid), teardown };
  } catch (err) {
    await teardown();
    throw err;
  }
}

/**
 * Two overlayd nodes with Backend.Type "wireguard". Lab nodes share one filesystem, so each gets
 * its own WIREGUARD_KEY_FILE (the default /run/flannel/wgkey would give both the same key).
 */
export async function overlaydWireguardPair(env: Record<string, string>): Promise<Setup> {
  const lab = await Lab.create({
    nodes: 2,
    networkConfig: { Network: '10.244.0.0/16', Backend: { Type: 'wireguard' } },
  });
  try {
    await Promise.all(
      lab.nodes.map((n) =>
        n.startDaemon({
          flags: ['--log-level=warn'],
          env: { WIREGUARD_KEY_FILE: join(lab.dir, `n${n.index}`, 'wgkey'), ...env },
        }),
      ),
    );
    const [a, b] = await Promise.all(lab.nodes.map((n) => addPod(n, 'p1')));
    return { a: a!, b: b!, pids: lab.nodes.map((n) => n.pid!), teardown: () => lab.destroy() };
  } catch (err) {
    await lab.destroy();
    throw err;
  }
}
