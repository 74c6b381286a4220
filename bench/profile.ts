#!/usr/bin/env node
/**
 * bench/profile: "where does the time go?" One backend in the two-node lab under a single-stream
 * iperf3, with a system-wide `perf record` while it runs; prints the machine's CPU split into
 * kernel copy / kernel other / JS / native / idle and the top symbols. overlayd runs with node's
 * --perf-basic-prof, so JIT-compiled functions have names (perf reads /tmp/perf-<pid>.map).
 * perf comes from Debian's linux-perf package, installed with apt-get when it is missing.
 *
 *   npm run bench:profile -- [--backend udp] [--duration S] [--top N] [--json FILE]
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cleanupStale } from '../test/lab/lab.js';
import { eachOption, iperf, parseOrExit } from './measure.js';
import {
  groupOf,
  GROUPS,
  parseReport,
  scopeOf,
  type Group,
  type Scope,
  type SymbolShare,
} from './profile-groups.js';
import { BACKENDS, setUp, type BenchBackend } from './scenarios.js';

const run = promisify(execFile);

interface Options {
  backend: BenchBackend;
  duration: number;
  top: number;
  json?: string;
}

function parseArgs(argv: string[]): Options {
  const o: Options = { backend: 'udp', duration: 8, top: 25 };
  eachOption(argv, ['--backend', '--duration', '--top', '--json'], (k, v) => {
    if (k === '--backend') o.backend = v as BenchBackend;
    else if (k === '--duration') o.duration = Number(v);
    else if (k === '--top') o.top = Number(v);
    else o.json = v;
  });
  if (!BACKENDS.includes(o.backend))
    throw new Error(`--backend: unknown "${o.backend}"; use one of ${BACKENDS.join(', ')}`);
  if (!(o.duration >= 2) || !Number.isInteger(o.duration)) throw new Error('--duration: whole seconds ≥ 2');
  if (!(o.top >= 1) || !Number.isInteger(o.top)) throw new Error('--top: a whole number ≥ 1');
  return o;
}

/** perf on PATH, or installed from Debian (linux-perf) once. */
async function ensurePerf(): Promise<void> {
  try {
    await run('perf', ['--version']);
    return;
  } catch {
    process.stderr.write('perf is missing: apt-get install linux-perf\n');
  }
  await run('apt-get', ['install', '-y', '--no-install-recommends', 'linux-perf'], {
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    maxBuffer: 64 << 20,
  });
  await run('perf', ['--version']);
}

async function main(): Promise<void> {
  const o = parseOrExit('bench/profile', parseArgs);
  await ensurePerf();
  await cleanupStale();
  const dir = await mkdtemp(join(tmpdir(), 'overlayd-profile-'));
  const data = join(dir, 'perf.data');
  process.stderr.write(`setting up ${o.backend}\n`);
  const setup = await setUp(o.backend, { NODE_OPTIONS: '--perf-basic-prof' });
  let gbps = 0;
  const tids = new Set<number>();
  try {
    await iperf(setup.a, setup.b, 2, 1); // warm-up: the JIT has compiled the hot path
    const traffic = iperf(setup.a, setup.b, o.duration + 2, 1);
    await new Promise((r) => setTimeout(r, 1000));
    process.stderr.write(`perf record -a -g for ${o.duration} s\n`);
    await run('perf', ['record', '-a', '-g', '-F', '499', '-o', data, '--', 'sleep', String(o.duration)], {
      maxBuffer: 64 << 20,
    });
    // The daemons' threads (workers included), while they all exist: perf names samples by thread.
    for (const pid of setup.pids)
      for (const t of await readdir(`/proc/${pid}/task`).catch(() => [])) tids.add(Number(t));
    gbps = (await traffic).gbps;
  } finally {
    // perf report needs the JIT maps, which live as long as the daemons' /tmp/perf-<pid>.map.
    const { stdout } = await run(
      'perf',
      [
        'report',
        '-i',
        data,
        '--stdio',
        '--no-children',
        '--sort',
        'pid,dso,sym',
        '-g',
        'none',
        '--percent-limit',
        '0.01',
      ],
      { maxBuffer: 256 << 20 },
    ).catch((err: unknown) => ({ stdout: '', err }));
    await setup.teardown();
    for (const pid of setup.pids) await rm(`/tmp/perf-${pid}.map`, { force: true });
    const rows = parseReport(stdout);
    if (rows.length > 0) report(o, rows, gbps, tids);
    else process.stderr.write('perf report gave no samples\n');
    await rm(dir, { recursive: true, force: true });
  }
}

function report(o: Options, rows: readonly SymbolShare[], gbps: number, tids: ReadonlySet<number>): void {
  const scopes: Scope[] = ['overlayd', 'traffic', 'other'];
  const table = new Map<Group, Record<Scope, number>>(
    GROUPS.map((g) => [g, { overlayd: 0, traffic: 0, other: 0 }]),
  );
  for (const r of rows) table.get(groupOf(r))![scopeOf(r, tids)] += r.percent;
  const model = cpus()[0]?.model.trim() ?? 'unknown';
  const pct = (v: number): string => `${v.toFixed(1)} %`;
  const out: string[] = [];
  out.push(`${o.backend}, 1 TCP stream: ${gbps.toFixed(2)} Gbit/s; CPU ${model}, ${cpus().length} CPUs`);
  out.push(
    '',
    'Share of all CPU time on the machine (overlayd = its threads; traffic = iperf3, softirq and idle threads; other = other processes)',
    '',
    '| group | overlayd | traffic | other | all |',
    '|---|---|---|---|---|',
  );
  for (const g of GROUPS) {
    const t = table.get(g)!;
    out.push(
      `| ${g} | ${scopes.map((s) => pct(t[s])).join(' | ')} | ${pct(t.overlayd + t.traffic + t.other)} |`,
    );
  }
  out.push(
    '',
    `Top symbols outside other processes`,
    '',
    '| symbol | group | thread | share |',
    '|---|---|---|---|',
  );
  const mine = rows.filter((r) => scopeOf(r, tids) !== 'other').sort((x, y) => y.percent - x.percent);
  for (const r of mine.slice(0, o.top))
    out.push(
      `| ${r.sym.slice(0, 70)} | ${groupOf(r)} | ${scopeOf(r, tids)} ${r.comm} | ${r.percent.toFixed(2)} % |`,
    );
  process.stdout.write(out.join('\n') + '\n');
  if (o.json) {
    const groups = Object.fromEntries(table);
    void writeFile(
      o.json,
      JSON.stringify(
        {
          backend: o.backend,
          cpuModel: model,
          gbps,
          groups,
          // Each row with its scope, so two profiles can be compared per symbol per Gbit/s.
          rows: rows.map((r) => ({ ...r, scope: scopeOf(r, tids) })),
        },
        null,
        2,
      ),
    );
  }
}

await main();
