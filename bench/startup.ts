#!/usr/bin/env node
/**
 * bench/startup: how long overlayd takes from process start to subnet.env, for 1 daemon alone and
 * for 3 daemons started in the same instant (the case that matters on a busy node: a DaemonSet
 * roll-out, or a host reboot starting every unit at once). Target: ≤ 1 s for 3 at once on 2 vCPUs.
 *
 * Each round starts fresh nodes (their leases deleted from etcd, no subnet.env), with the alloc
 * backend so only the daemon's own work is timed. Times come from the daemon's own log lines
 * (their ISO `time`, the same wall clock as ours): spawn → "overlayd starting" (node boot, flags,
 * module loading) → "subnet file written".
 *
 *   npm run bench:startup -- [--rounds 5] [--json bench/results/startup.json] [--main dist/daemon/main.js]
 */
import { readFileSync, watch } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { basename, dirname, relative } from 'node:path';
import { Lab, cleanupStale } from '../test/lab/lab.js';
import { DAEMON_MAIN, type LabNode } from '../test/lab/lab-node.js';
import { eachOption, median, parseOrExit } from './measure.js';

interface Sample {
  daemons: number;
  round: number;
  /** spawn → the first log line (process boot + main's imports). */
  bootMs: number;
  /** spawn → subnet.env written. */
  subnetEnvMs: number;
  /**
   * CPU the daemon had used when subnet.env appeared (user + system, 10 ms ticks): the figure a
   * busy machine does not move much, where the wall times above depend on the neighbours' load.
   */
  cpuMs: number;
}

interface Options {
  rounds: number;
  json: string;
  /** The entry point to start (default the bundle, DAEMON_MAIN); dist/daemon/main.js is tsc's, unbundled. */
  main: string | undefined;
}

function parse(argv: string[]): Options {
  const o: Options = { rounds: 5, json: 'bench/results/startup.json', main: undefined };
  eachOption(argv, ['--rounds', '--json', '--main'], (k, v) => {
    if (k === '--main') o.main = v;
    else if (k === '--rounds') {
      o.rounds = Number(v);
      if (!(Number.isInteger(o.rounds) && o.rounds > 0))
        throw new Error(`--rounds: ${v} is not a positive whole number`);
    } else o.json = v;
  });
  return o;
}

/** The time of the first log line with `msg` logged at or after `since` (earlier runs share the file). */
async function logTime(node: LabNode, msg: string, since: number, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    let text = '';
    try {
      text = readFileSync(node.logFile, 'utf8');
    } catch {
      // the log stream opens asynchronously after the spawn
    }
    for (const line of text.split('\n')) {
      if (!line.startsWith('{')) continue;
      const rec = JSON.parse(line) as { msg?: string; time?: string | number };
      // overlayd logs ISO times (daemon/logger.ts); ms resolution, same clock as Date.now().
      const t = rec.time === undefined ? NaN : new Date(rec.time).getTime();
      if (rec.msg === msg && t >= since) return t;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`node ${node.index}: no "${msg}" log line after ${timeoutMs} ms:\n${node.logTail()}`);
}

/** user + system CPU of a process, ms (/proc/<pid>/stat fields 14 and 15, in 100 Hz ticks). */
async function cpuMsOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

/** Resolves with the daemon's CPU use the moment its subnet.env is renamed into place. */
function cpuAtSubnetEnv(node: LabNode, getPid: () => number | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const w = watch(dirname(node.subnetFile), (_ev, name) => {
      if (name !== basename(node.subnetFile)) return;
      const pid = getPid();
      if (pid === undefined) return;
      w.close();
      cpuMsOf(pid).then(resolve, reject);
    });
  });
}

async function round(lab: Lab, daemons: number, r: number, main: string | undefined): Promise<Sample[]> {
  const nodes = lab.nodes.slice(0, daemons);
  await Promise.all(lab.nodes.map((n) => n.stopDaemon()));
  const c = lab.client();
  try {
    await c.delete().prefix(`${lab.prefix}/subnets/`).exec();
  } finally {
    c.close();
  }
  await Promise.all(nodes.map((n) => rm(n.subnetFile, { force: true })));
  await Promise.all(nodes.map((n) => mkdir(dirname(n.subnetFile), { recursive: true })));
  const cpuAtEnv = nodes.map((n) => cpuAtSubnetEnv(n, () => n.pid));
  // Let the previous round's exits and etcd's deletes settle, so they do not eat into this round.
  await new Promise((res) => setTimeout(res, 1000));
  // All spawns in one tick: "started together".
  const t0 = Date.now();
  await Promise.all(
    nodes.map((n) =>
      n.startDaemon({ waitReady: false, flags: ['--log-level=info'], ...(main ? { main } : {}) }),
    ),
  );
  const samples: Sample[] = [];
  for (const [i, n] of nodes.entries()) {
    const boot = await logTime(n, 'overlayd starting', t0, 30_000);
    const env = await logTime(n, 'subnet file written', t0, 30_000);
    samples.push({ daemons, round: r, bootMs: boot - t0, subnetEnvMs: env - t0, cpuMs: await cpuAtEnv[i]! });
  }
  return samples;
}

async function main(): Promise<void> {
  const opts = parseOrExit('bench/startup', parse);
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  // Other work on the machine moves the wall times; say how busy it was.
  const loadAtStart = loadavg()[0]!.toFixed(1);
  await cleanupStale();
  const lab = await Lab.create({
    nodes: 3,
    networkConfig: { Network: '10.244.0.0/16', Backend: { Type: 'alloc' } },
  });
  const samples: Sample[] = [];
  try {
    // Interleaved, so the machine's drift over the run hits both cases alike.
    for (let r = 1; r <= opts.rounds; r++)
      for (const daemons of [1, 3]) {
        process.stderr.write(`startup: ${daemons} daemon(s), round ${r}/${opts.rounds}…\n`);
        samples.push(...(await round(lab, daemons, r, opts.main)));
      }
    await Promise.all(lab.nodes.map((n) => n.stopDaemon()));
  } finally {
    await lab.destroy();
  }
  const rows = [1, 3].map((daemons) => {
    const mine = samples.filter((s) => s.daemons === daemons);
    // For 3 at once, a round is as slow as its slowest daemon.
    const perRound = [...new Set(mine.map((s) => s.round))].map((r) =>
      Math.max(...mine.filter((s) => s.round === r).map((s) => s.subnetEnvMs)),
    );
    return {
      daemons,
      bootMsMedian: median(mine.map((s) => s.bootMs)),
      subnetEnvMsMedian: median(mine.map((s) => s.subnetEnvMs)),
      slowestPerRoundMsMedian: median(perRound),
      slowestMsMax: Math.max(...perRound),
      cpuMsMedian: median(mine.map((s) => s.cpuMs)),
    };
  });
  const load = loadavg()[0]!.toFixed(1);
  const lines = [
    `CPU: ${cpu} × ${cpus().length}, node ${process.version}, ${opts.rounds} rounds, load average ${loadAtStart} at the start, ${load} at the end, entry point ${opts.main ?? relative(process.cwd(), DAEMON_MAIN)}`,
    '| daemons started together | spawn → first log line ms (median) | spawn → subnet.env ms (median) | slowest daemon per round ms (median / max) | CPU per daemon until subnet.env ms (median) |',
    '|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.daemons} | ${r.bootMsMedian.toFixed(0)} | ${r.subnetEnvMsMedian.toFixed(0)} | ${r.slowestPerRoundMsMedian.toFixed(0)} / ${r.slowestMsMax.toFixed(0)} | ${r.cpuMsMedian.toFixed(0)} |`,
    ),
    '(target: 3 daemons together, slowest ≤ 1000 ms)',
  ];
  process.stdout.write(lines.join('\n') + '\n');
  await writeFile(
    opts.json,
    JSON.stringify(
      {
        schema: 'overlayd-bench-startup/1',
        date: new Date().toISOString(),
        cpu,
        cpus: cpus().length,
        node: process.version,
        loadAverage: { start: Number(loadAtStart), end: Number(load) },
        entryPoint: opts.main ?? relative(process.cwd(), DAEMON_MAIN),
        rows,
        samples,
      },
      null,
      2,
    ) + '\n',
  );
}

await main();
