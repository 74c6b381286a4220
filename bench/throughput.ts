#!/usr/bin/env node
/**
 * bench/throughput: "udp vs vxlan vs host-gw — what do I pay?" Pod-to-pod iperf3 TCP (1 and 4
 * streams), ping RTT p50/p99, overlayd CPU per GB and RSS, for each overlayd backend and two
 * hand-built baselines, measured in one run so the ratios mean something on a noisy machine.
 *
 *   npm run bench -- [--duration S] [--repeat N] [--backends a,b] [--json FILE] [--svg FILE]
 */
import { writeFile } from 'node:fs/promises';
import { cpus, release } from 'node:os';
import { cleanupStale } from '../test/lab/lab.js';
import { cpuSeconds, iperf, median, pingRtt, rssSampler } from './measure.js';
import { ratiosOf, renderSvg, renderTable, type BenchReport, type BenchRow } from './report.js';
import { BACKENDS, DESCRIPTIONS, setUp, type BenchBackend } from './scenarios.js';

interface Options {
  duration: number;
  repeat: number;
  backends: BenchBackend[];
  json?: string;
  svg?: string;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { duration: 5, repeat: 3, backends: [...BACKENDS] };
  for (let i = 0; i < argv.length; i++) {
    const [k, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    const v = (): string => {
      const val = inline ?? argv[++i];
      if (val === undefined) throw new Error(`${k} needs a value`);
      return val;
    };
    if (k === '--duration') o.duration = Number(v());
    else if (k === '--repeat') o.repeat = Number(v());
    else if (k === '--backends') o.backends = v().split(',') as BenchBackend[];
    else if (k === '--json') o.json = v();
    else if (k === '--svg') o.svg = v();
    else throw new Error(`unknown option ${k}; use --duration, --repeat, --backends, --json, --svg`);
  }
  if (!(o.duration >= 1) || !Number.isInteger(o.duration)) throw new Error('--duration: whole seconds ≥ 1');
  if (!(o.repeat >= 1) || !Number.isInteger(o.repeat)) throw new Error('--repeat: a whole number ≥ 1');
  for (const b of o.backends)
    if (!BACKENDS.includes(b)) throw new Error(`--backends: unknown "${b}"; use ${BACKENDS.join(', ')}`);
  return o;
}

const progress = (msg: string): void => {
  process.stderr.write(`\r\x1b[K${msg}`);
};

async function benchOne(backend: BenchBackend, o: Options, step: string): Promise<BenchRow> {
  progress(`${step} ${backend}: setting up`);
  const s = await setUp(backend);
  try {
    const runs = { gbps1: [] as number[], gbps4: [] as number[] };
    let bytes = 0;
    const cpu0 = (await Promise.all(s.pids.map(cpuSeconds))).reduce((a, b) => a + b, 0);
    const rss = rssSampler(s.pids);
    for (let r = 1; r <= o.repeat; r++) {
      for (const streams of [1, 4] as const) {
        progress(
          `${step} ${backend}: run ${r}/${o.repeat}, ${streams} stream${streams > 1 ? 's' : ''} for ${o.duration} s`,
        );
        const res = await iperf(s.a, s.b, o.duration, streams);
        (streams === 1 ? runs.gbps1 : runs.gbps4).push(res.gbps);
        bytes += res.bytes;
      }
    }
    const cpu1 = (await Promise.all(s.pids.map(cpuSeconds))).reduce((a, b) => a + b, 0);
    const peak = rss.stop();
    progress(`${step} ${backend}: ping RTT`);
    const rtt = await pingRtt(s.a, s.b, 100);
    return {
      backend,
      description: DESCRIPTIONS[backend],
      gbps1: median(runs.gbps1),
      gbps4: median(runs.gbps4),
      rttP50Ms: rtt.p50,
      rttP99Ms: rtt.p99,
      cpuSecPerGB: s.pids.length ? (cpu1 - cpu0) / (bytes / 1e9) : null,
      rssMB: s.pids.length ? peak / 1e6 : null,
      runs,
    };
  } finally {
    await s.teardown();
  }
}

async function main(): Promise<void> {
  let o: Options;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`bench/throughput: ${(err as Error).message}\n`);
    process.exit(2);
  }
  await cleanupStale();
  const rows: BenchRow[] = [];
  for (const [i, b] of o.backends.entries())
    rows.push(await benchOne(b, o, `[${i + 1}/${o.backends.length}]`));
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
  if (o.json) await writeFile(o.json, JSON.stringify(report, null, 2) + '\n');
  if (o.svg) await writeFile(o.svg, renderSvg(report));
}

await main();
