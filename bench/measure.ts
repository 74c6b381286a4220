/** Measurements for the benches: iperf3 between pods, ping RTT percentiles, a process's CPU and RSS. */
import { readFile } from 'node:fs/promises';
import { ping } from '../test/lab/pods.js';
import { inNs } from '../test/lab/shell.js';

/** Where traffic starts or ends: a namespace and its address (a pod, or a bare veth end). */
export interface Endpoint {
  readonly ns: string;
  readonly ip: string;
}

const inPod = (e: Endpoint, cmd: string, args: readonly string[], timeoutMs: number) =>
  inNs(e.ns, cmd, args, { timeoutMs });

export interface IperfResult {
  readonly gbps: number;
  readonly bytes: number;
}

let nextPort = 5201;

/** iperf3 TCP from `from` to `to` for `seconds` with `streams` parallel streams. */
export async function iperf(
  from: Endpoint,
  to: Endpoint,
  seconds: number,
  streams: number,
): Promise<IperfResult> {
  const port = nextPort++;
  if (nextPort > 5900) nextPort = 5201;
  const server = inPod(to, 'iperf3', ['-s', '-1', '-B', to.ip, '-p', String(port)], (seconds + 30) * 1000);
  await new Promise((r) => setTimeout(r, 300));
  const r = await inPod(
    from,
    'iperf3',
    ['-c', to.ip, '-p', String(port), '-t', String(seconds), '-P', String(streams), '-J'],
    (seconds + 30) * 1000,
  );
  await server;
  let j: { end?: { sum_received?: { bits_per_second: number; bytes: number } }; error?: string };
  try {
    j = JSON.parse(r.stdout);
  } catch {
    throw new Error(`iperf3 gave no JSON: ${r.stderr || r.stdout}`);
  }
  if (j.error || !j.end?.sum_received) throw new Error(`iperf3 failed: ${j.error ?? 'no result'}`);
  return { gbps: j.end.sum_received.bits_per_second / 1e9, bytes: j.end.sum_received.bytes };
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export function median(values: readonly number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}

/** `count` pings `intervalS` apart (10 ms by default); RTT p50/p99 in ms, and each reply's RTT in order. */
export async function pingRtt(
  from: Endpoint,
  to: Endpoint,
  count = 100,
  intervalS = 0.01,
): Promise<{ p50: number; p99: number; loss: number; samples: number[] }> {
  const { loss, rtts: samples } = await ping(from, to, count, intervalS, 120_000);
  const rtts = [...samples].sort((a, b) => a - b);
  return { p50: percentile(rtts, 50), p99: percentile(rtts, 99), loss, samples };
}

/** CPU seconds (user + system) a process has used so far; 0 when it is gone. */
export async function cpuSeconds(pid: number): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return 0;
  }
}

export async function rssBytes(pid: number, field: 'VmRSS' | 'VmHWM' = 'VmRSS'): Promise<number> {
  try {
    const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(await readFile(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

/** Samples the peak RSS of `pids` every 200 ms until stopped. */
export function rssSampler(pids: readonly number[]): { stop(): number } {
  let peak = 0;
  const timer = setInterval(() => {
    void Promise.all(pids.map((p) => rssBytes(p))).then((v) => {
      peak = Math.max(peak, ...v);
    });
  }, 200);
  return {
    stop(): number {
      clearInterval(timer);
      return peak;
    },
  };
}

/** A bench's options from argv, or its usage error on stderr and exit 2. */
export function parseOrExit<T>(bench: string, parse: (argv: string[]) => T): T {
  try {
    return parse(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${bench}: ${(err as Error).message}\n`);
    process.exit(2);
  }
}

/**
 * Walks `--name value` and `--name=value` pairs, handing each to `set`; an unknown name or a
 * missing value throws with the known names.
 */
export function eachOption(
  argv: readonly string[],
  names: readonly string[],
  set: (name: string, value: string) => void,
): void {
  for (let i = 0; i < argv.length; i++) {
    const [k, inline] = argv[i]!.split('=', 2) as [string, string | undefined];
    if (!names.includes(k)) throw new Error(`unknown option ${k}; use ${names.join(', ')}`);
    const val = inline ?? argv[++i];
    if (val === undefined) throw new Error(`${k} needs a value`);
    set(k, val);
  }
}
