#!/usr/bin/env node
/**
 * bench/convergence: control-plane speed of the vxlan backend. N synthetic peer leases are written
 * to etcd while one overlayd node runs; we time until every route is in the kernel (watched with
 * `ip monitor route` inside the node), then time single lease events to their kernel route, and
 * read the daemon's RSS. Targets: 5000 peers ≤ 1 s, one event ≤ 5 ms p99, RSS ≤ 100 MB.
 *
 *   npm run bench:convergence -- [--peers 1000,5000] [--events 200] [--repeat N] [--json FILE]
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { Lab, cleanupStale } from '../test/lab/lab.js';
import { syntheticKey, syntheticSubnet, syntheticVxlanLease } from '../test/lab/synthetic-peers.js';
import { percentile, rssBytes } from './measure.js';

interface Row {
  peers: number;
  convergeMs: number;
  /** Of convergeMs, the time etcd took to accept the writes (the daemon works while they land). */
  writesMs: number;
  eventP50Ms: number;
  eventP99Ms: number;
  /** From etcd's acknowledgement of the put rather than from the put call (etcd's commit excluded). */
  eventP99FromAckMs: number;
  rssMB: number;
  /** After two periodic reconciles (each dumps every route, neighbour and FDB entry). */
  rssSteadyMB: number;
  rssPeakMB: number;
}

/** Two periodic reconciles (every 10 s) after the events, so steady-state RSS includes their work. */
const STEADY_WAIT_MS = 21_000;

async function runOne(peers: number, events: number): Promise<Row> {
  const lab = await Lab.create({
    nodes: 1,
    networkConfig: {
      Network: '10.0.0.0/8',
      SubnetMin: '10.0.1.0',
      SubnetMax: '10.250.255.0',
      Backend: { Type: 'vxlan' },
    },
  });
  try {
    const node = lab.nodes[0]!;
    await node.startDaemon({ flags: ['--log-level=warn'] });
    // Every route our daemon adds shows up here, with the time we read it.
    const monitor = spawn('ip', ['netns', 'exec', node.ns, 'ip', 'monitor', 'route'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let added = 0;
    const waiters = new Map<string, (t: number) => void>();
    let onCount: (() => void) | undefined;
    createInterface({ input: monitor.stdout! }).on('line', (line) => {
      if (line.startsWith('Deleted') || !line.includes('proto 77')) return;
      added++;
      const dst = line.split(' ')[0]!;
      waiters.get(dst)?.(performance.now());
      onCount?.();
    });
    await new Promise((r) => setTimeout(r, 300));
    const c = lab.client();
    try {
      const t0 = performance.now();
      const done = new Promise<number>((resolve) => {
        onCount = () => {
          if (added >= peers) resolve(performance.now());
        };
      });
      for (let i = 0; i < peers; i += 100) {
        const txn = c.if(`${lab.prefix}/config`, 'Create', '>', 0);
        const puts = [];
        for (let j = i; j < Math.min(peers, i + 100); j++)
          puts.push(c.put(syntheticKey(lab.prefix, j)).value(syntheticVxlanLease(j)));
        await txn.then(...puts).commit();
      }
      const writesMs = performance.now() - t0;
      const convergeMs = (await done) - t0;
      onCount = undefined;
      const lat: number[] = [];
      const fromAck: number[] = [];
      for (let e = 0; e < events; e++) {
        const i = peers + e;
        const dst = syntheticSubnet(i);
        const arrived = new Promise<number>((r) => waiters.set(dst, r));
        const start = performance.now();
        await c.put(syntheticKey(lab.prefix, i)).value(syntheticVxlanLease(i)).exec();
        const acked = performance.now();
        const at = await arrived;
        lat.push(at - start);
        // etcd sends the watch event and the ack together: the route may even come first (then 0).
        fromAck.push(Math.max(0, at - acked));
        waiters.delete(dst);
      }
      lat.sort((a, b) => a - b);
      fromAck.sort((a, b) => a - b);
      const rss = await rssBytes(node.pid!);
      await new Promise((r) => setTimeout(r, STEADY_WAIT_MS));
      const rssSteady = await rssBytes(node.pid!);
      const rssPeak = await rssBytes(node.pid!, 'VmHWM');
      return {
        peers,
        convergeMs,
        writesMs,
        eventP50Ms: percentile(lat, 50),
        eventP99Ms: percentile(lat, 99),
        eventP99FromAckMs: percentile(fromAck, 99),
        rssMB: rss / 1e6,
        rssSteadyMB: rssSteady / 1e6,
        rssPeakMB: rssPeak / 1e6,
      };
    } finally {
      c.close();
      monitor.kill();
    }
  } finally {
    await lab.destroy();
  }
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const opt = (name: string, dflt: string): string => {
    const i = args.findIndex((a) => a === name || a.startsWith(`${name}=`));
    if (i < 0) return dflt;
    return args[i]!.includes('=') ? args[i]!.split('=')[1]! : (args[i + 1] ?? dflt);
  };
  const peerCounts = opt('--peers', '1000,5000').split(',').map(Number);
  const events = Number(opt('--events', '200'));
  const repeat = Number(opt('--repeat', '1'));
  const json = opt('--json', '');
  if (peerCounts.some((n) => !(n > 0)) || !(events > 0) || !(Number.isInteger(repeat) && repeat > 0)) {
    process.stderr.write(
      'bench/convergence: --peers takes counts like 1000,5000, --events and --repeat positive whole numbers\n',
    );
    process.exit(2);
  }
  await cleanupStale();
  const rows: Row[] = [];
  for (let r = 1; r <= repeat; r++)
    for (const n of peerCounts) {
      process.stderr.write(`convergence: ${n} peers (run ${r}/${repeat})…\n`);
      rows.push(await runOne(n, events));
    }
  const lines = [
    '| peers | converge ms | (etcd writes ms) | event p50 ms | event p99 ms | p99 from etcd ack ms | RSS MB | RSS after reconciles MB | peak RSS MB |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  const f = (v: number, d = 0): string => v.toFixed(d);
  for (const r of rows)
    lines.push(
      `| ${r.peers} | ${f(r.convergeMs)} | ${f(r.writesMs)} | ${f(r.eventP50Ms, 2)} | ${f(r.eventP99Ms, 2)} | ${f(r.eventP99FromAckMs, 2)} | ${f(r.rssMB)} | ${f(r.rssSteadyMB)} | ${f(r.rssPeakMB)} |`,
    );
  process.stdout.write(
    lines.join('\n') + '\n(targets: 5000 peers ≤ 1000 ms, event p99 ≤ 5 ms, RSS ≤ 100 MB)\n',
  );
  if (json)
    await writeFile(
      json,
      JSON.stringify(
        { schema: 'overlayd-bench-convergence/1', date: new Date().toISOString(), rows },
        null,
        2,
      ) + '\n',
    );
}

await main();
