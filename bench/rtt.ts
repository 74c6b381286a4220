#!/usr/bin/env node
/**
 * bench/rtt: "what does a packet's trip through userspace cost?" Pod-to-pod ping RTT over kernel
 * VXLAN (by hand), the udp backend, and the udp backend with V8's default JIT tier-up, all set up
 * at once and pinged in interleaved rounds, so drift on a noisy machine hits every setup alike.
 *
 *   npm run bench:rtt -- [--rounds N] [--interval S] [--configs kernel-vxlan,udp,...] [--json FILE]
 */
import { writeFile } from 'node:fs/promises';
import { cleanupStale } from '../test/lab/lab.js';
import { eachOption, parseOrExit, percentile, pingRtt } from './measure.js';
import { setUp, type BenchBackend, type Setup } from './scenarios.js';

interface Config {
  readonly name: string;
  readonly backend: BenchBackend;
  readonly env?: Record<string, string>;
  readonly description: string;
}

const CONFIGS: readonly Config[] = [
  { name: 'kernel-vxlan', backend: 'kernel-vxlan', description: 'baseline: kernel VXLAN by hand' },
  {
    name: 'c-forwarder',
    backend: 'c-forwarder',
    description: 'baseline: per-packet C forwarder (flannel udp I/O model)',
  },
  {
    name: 'js-forwarder',
    backend: 'js-forwarder',
    description: 'baseline: the C forwarder loop in JS, no checks',
  },
  { name: 'udp', backend: 'udp', description: 'overlayd udp as shipped' },
  {
    name: 'wireguard-go',
    backend: 'wireguard-go',
    description: "reference: Debian's wireguard-go, configured as flanneld configures a kernel peer",
  },
  { name: 'wireguard', backend: 'wireguard', description: 'overlayd wireguard' },
  { name: 'vxlan', backend: 'vxlan', description: 'overlayd vxlan on the kernel device' },
  {
    name: 'vxlan-userspace',
    backend: 'vxlan-userspace',
    description: 'overlayd vxlan in userspace on both nodes',
  },
  { name: 'vxlan-mixed', backend: 'vxlan-mixed', description: 'overlayd vxlan, userspace ↔ kernel' },
  {
    name: 'kernel-vxlan6',
    backend: 'kernel-vxlan6',
    description: 'baseline: kernel VXLAN over an IPv6 underlay by hand, IPv6 pods',
  },
  {
    name: 'vxlan6',
    backend: 'vxlan6',
    description: 'overlayd vxlan dual-stack, IPv6 pods over flannel-v6.1',
  },
  { name: 'host-gw6', backend: 'host-gw6', description: 'overlayd host-gw dual-stack, IPv6 pods' },
  { name: 'udp-copy', backend: 'udp-copy', description: 'overlayd udp with --udp-sg=off (copying)' },
  { name: 'udp-percpu', backend: 'udp-percpu', description: 'overlayd udp with --udp-queues=auto' },
  { name: 'udp-split', backend: 'udp-split', description: 'overlayd udp with --udp-workers=2' },
  {
    name: 'udp-jit-default',
    backend: 'udp',
    env: { OVERLAYD_JIT_BUDGET: '67584' },
    description: "overlayd udp with V8's default tier-up budget",
  },
];
const PINGS_PER_ROUND = 50;

interface Options {
  rounds: number;
  interval: number;
  /** The setups to ping (kernel-vxlan, the ratios' base, always first). */
  configs: readonly Config[];
  json?: string;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { rounds: 8, interval: 0.01, configs: CONFIGS };
  eachOption(argv, ['--rounds', '--interval', '--configs', '--json'], (k, v) => {
    if (k === '--rounds') o.rounds = Number(v);
    else if (k === '--interval') o.interval = Number(v);
    else if (k === '--configs') {
      const names = v.split(',');
      for (const n of names)
        if (!CONFIGS.some((c) => c.name === n))
          throw new Error(`--configs: unknown "${n}"; use ${CONFIGS.map((c) => c.name).join(', ')}`);
      o.configs = CONFIGS.filter((c, i) => i === 0 || names.includes(c.name));
    } else o.json = v;
  });
  if (!Number.isInteger(o.rounds) || o.rounds < 1) throw new Error('--rounds: a whole number ≥ 1');
  // ping refuses intervals below 2 ms without a flood flag.
  if (!(o.interval >= 0.002 && o.interval <= 1)) throw new Error('--interval: seconds between 0.002 and 1');
  return o;
}

async function main(): Promise<void> {
  const o = parseOrExit('bench/rtt', parseArgs);
  await cleanupStale();
  const setups: Setup[] = [];
  const configs = o.configs;
  const samples = configs.map(() => [] as number[]);
  try {
    for (const c of configs) {
      process.stderr.write(`\r\x1b[Ksetting up ${c.name}`);
      setups.push(await setUp(c.backend, c.env));
    }
    for (let r = 1; r <= o.rounds; r++)
      for (const [i, c] of configs.entries()) {
        process.stderr.write(`\r\x1b[Kround ${r}/${o.rounds}: ${c.name}`);
        const s = setups[i]!;
        const res = await pingRtt(s.a, s.b, PINGS_PER_ROUND, o.interval);
        // The first two replies of a round include ARP and route-cache warm-up: not what we measure.
        const rtts = res.samples;
        samples[i]!.push(...rtts.slice(2));
      }
  } finally {
    process.stderr.write('\r\x1b[K');
    for (const s of setups) await s.teardown();
  }
  const rows = configs.map((c, i) => {
    const t = [...samples[i]!].sort((a, b) => a - b);
    return {
      name: c.name,
      description: c.description,
      n: t.length,
      p10: percentile(t, 10),
      p50: percentile(t, 50),
      p90: percentile(t, 90),
    };
  });
  const base = rows[0]!.p50;
  const lines = [
    `ping every ${o.interval * 1000} ms, ${o.rounds} interleaved rounds of ${PINGS_PER_ROUND}`,
    '',
    '| setup | RTT p10 ms | p50 ms | p90 ms | p50 / kernel-vxlan | samples |',
    '|---|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.name} | ${r.p10.toFixed(3)} | ${r.p50.toFixed(3)} | ${r.p90.toFixed(3)} | ${(r.p50 / base).toFixed(2)} × | ${r.n} |`,
    ),
  ];
  process.stdout.write(lines.join('\n') + '\n');
  if (o.json)
    await writeFile(
      o.json,
      JSON.stringify(
        {
          schema: 'overlayd-bench-rtt/1',
          date: new Date().toISOString(),
          intervalS: o.interval,
          rounds: o.rounds,
          rows,
        },
        null,
        2,
      ) + '\n',
    );
}

await main();
