#!/usr/bin/env node
/**
 * bench/throughput: "udp vs vxlan vs host-gw — what do I pay?" Pod-to-pod iperf3 TCP (1 and 4
 * streams), ping RTT p50/p99, overlayd CPU per GB and RSS, for each overlayd backend and two
 * hand-built baselines, all set up at once and measured in interleaved rounds, so the ratios mean
 * something on a noisy machine.
 *
 *   npm run bench -- [--duration S] [--repeat N] [--backends a,b] [--json FILE] [--svg FILE]
 */
import { writeFile } from 'node:fs/promises';
import { cpus, release } from 'node:os';
import { cleanupStale } from '../test/lab/lab.js';
import {
  cpuSeconds,
  eachOption,
  iperf,
  median,
  parseOrExit,
  percentile,
  pingRtt,
  rssSampler,
} from './measure.js';
import { ratiosOf, renderSvg, renderTable, type BenchReport, type BenchRow } from './report.js';
import { BACKENDS, DESCRIPTIONS, setUp, type BenchBackend, type Setup } from './scenarios.js';

interface Options {
  duration: number;
  repeat: number;
  backends: BenchBackend[];
  json?: string;
  svg?: string;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { duration: 5, repeat: 3, backends: [...BACKENDS] };
  eachOption(argv, ['--duration', '--repeat', '--backends', '--json', '--svg'], (k, v) => {
    if (k === '--duration') o.duration = Number(v);
    else if (k === '--repeat') o.repeat = Number(v);
    else if (k === '--backends') o.backends = v.split(',') as BenchBackend[];
    else if (k === '--json') o.json = v;
    else o.svg = v;
  });
  if (!(o.duration >= 1) || !Number.isInteger(o.duration)) throw new Error('--duration: whole seconds ≥ 1');
  if (!(o.repeat >= 1) || !Number.isInteger(o.repeat)) throw new Error('--repeat: a whole number ≥ 1');
  for (const b of o.backends)
    if (!BACKENDS.includes(b)) throw new Error(`--backends: unknown "${b}"; use ${BACKENDS.join(', ')}`);
  return o;
}

const progress = (msg: string): void => {
  process.stderr.write(`\r\x1b[K${msg}`);
};

/** What one backend's runs add up to. */
interface Tally {
  readonly setup: Setup;
  readonly gbps1: number[];
  readonly gbps4: number[];
  readonly rtts: number[];
  bytes: number;
  cpuSeconds: number;
  rssPeak: number;
}

const cpuOf = async (pids: readonly number[]): Promise<number> =>
  (await Promise.all(pids.map(cpuSeconds))).reduce((a, b) => a + b, 0);

/** Round r visits the backends in this order: forwards, then backwards, so none always goes first. */
const roundOrder = <T>(xs: readonly T[], r: number): readonly T[] => (r % 2 === 1 ? xs : [...xs].reverse());

/** Pings per backend per round; the first reply of a round may still carry a cold route lookup. */
const PINGS_PER_ROUND = 26;

/**
 * Every backend is set up at once and measured in interleaved rounds (each round: 1 and 4
 * streams, then pings, per backend), so the machine drifting over the minutes a run takes hits
 * every backend alike. Measured one after the other, neighbours in the table differed by 20 %
 * from drift alone.
 */
async function benchAll(o: Options): Promise<BenchRow[]> {
  const tallies = new Map<BenchBackend, Tally>();
  try {
    for (const [i, b] of o.backends.entries()) {
      progress(`setting up ${b} (${i + 1}/${o.backends.length})`);
      const setup = await setUp(b);
      tallies.set(b, { setup, gbps1: [], gbps4: [], rtts: [], bytes: 0, cpuSeconds: 0, rssPeak: 0 });
    }
    for (let r = 1; r <= o.repeat; r++)
      for (const b of roundOrder(o.backends, r)) {
        const t = tallies.get(b)!;
        const { a, b: to, pids } = t.setup;
        for (const streams of [1, 4] as const) {
          progress(
            `round ${r}/${o.repeat} ${b}: ${streams} stream${streams > 1 ? 's' : ''} for ${o.duration} s`,
          );
          const cpu0 = await cpuOf(pids);
          const rss = rssSampler(pids);
          const res = await iperf(a, to, o.duration, streams);
          t.rssPeak = Math.max(t.rssPeak, rss.stop());
          t.cpuSeconds += (await cpuOf(pids)) - cpu0;
          (streams === 1 ? t.gbps1 : t.gbps4).push(res.gbps);
          t.bytes += res.bytes;
        }
        progress(`round ${r}/${o.repeat} ${b}: ping RTT`);
        t.rtts.push(...(await pingRtt(a, to, PINGS_PER_ROUND)).samples.slice(1));
      }
  } finally {
    progress('tearing down');
    for (const t of tallies.values()) await t.setup.teardown();
  }
  return o.backends.map((backend) => {
    const t = tallies.get(backend)!;
    const rtts = [...t.rtts].sort((x, y) => x - y);
    const daemons = t.setup.pids.length > 0;
    return {
      backend,
      description: DESCRIPTIONS[backend],
      gbps1: median(t.gbps1),
      gbps4: median(t.gbps4),
      rttP50Ms: percentile(rtts, 50),
      rttP99Ms: percentile(rtts, 99),
      cpuSecPerGB: daemons ? t.cpuSeconds / (t.bytes / 1e9) : null,
      rssMB: daemons ? t.rssPeak / 1e6 : null,
      runs: { gbps1: t.gbps1, gbps4: t.gbps4 },
    };
  });
}

async function main(): Promise<void> {
  const o = parseOrExit('bench/throughput', parseArgs);
  await cleanupStale();
  const rows = await benchAll(o);
  progress('');
  const report: BenchReport = {
    schema: 'overlayd-bench-throughput/1',
    date: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
      kernel: release(),
      node: process.version,
    },
    durationS: o.duration,
    repeat: o.repeat,
    rows,
    ratios: ratiosOf(rows),
  };
  process.stdout.write(`${renderTable(report)}\n`);
  const udp = report.ratios['udp']?.vsKernelVxlan;
  const plain = rows.find((r) => r.backend === 'udp-plain')?.gbps1;
  const fast = rows.find((r) => r.backend === 'udp')?.gbps1;
  if (udp) process.stdout.write(`udp = ${udp.toFixed(2)} × kernel-vxlan (bar 0.25, moonshot 0.50)\n`);
  if (plain && fast)
    process.stdout.write(`udp offloads+batching = ${(fast / plain).toFixed(1)} × the per-packet path\n`);
  // #18: overlayd wireguard against Debian's wireguard-go and its own plaintext udp, same run.
  const wg = rows.find((r) => r.backend === 'wireguard');
  const wgGo = rows.find((r) => r.backend === 'wireguard-go');
  if (wg && wgGo)
    process.stdout.write(
      `wireguard = ${(wg.gbps1 / wgGo.gbps1).toFixed(2)} × wireguard-go at 1 stream (bar 2), RTT p50 ` +
        `${wg.rttP50Ms.toFixed(3)} vs ${wgGo.rttP50Ms.toFixed(3)} ms (bar ≤)\n`,
    );
  if (wg && fast) process.stdout.write(`wireguard = ${(wg.gbps1 / fast).toFixed(2)} × udp (moonshot 0.6)\n`);
  const c = rows.find((r) => r.backend === 'c-forwarder')?.gbps1;
  if (c && fast) process.stdout.write(`udp = ${(fast / c).toFixed(1)} × a per-packet C forwarder\n`);
  // The IPv6 rows are held to the hand-built kernel vxlan over IPv6 of the same run (#16: ≥ 0.9).
  const ref6 = rows.find((r) => r.backend === 'kernel-vxlan6');
  for (const name of ['vxlan6', 'host-gw6'] as const) {
    const r = rows.find((x) => x.backend === name);
    if (r && ref6)
      process.stdout.write(
        `${name} = ${(r.gbps1 / ref6.gbps1).toFixed(2)} × kernel-vxlan6 at 1 stream, ` +
          `${(r.gbps4 / ref6.gbps4).toFixed(2)} × at 4 streams${name === 'vxlan6' ? ' (bar 0.9)' : ''}\n`,
      );
  }
  if (o.json) await writeFile(o.json, JSON.stringify(report, null, 2) + '\n');
  if (o.svg) await writeFile(o.svg, renderSvg(report));
}

await main();
