/**
 * One node of the lab: a network namespace with its underlay address, an overlayd process with its
 * own subnet file and health port, and helpers to run commands, read logs and wait for readiness.
 */
import { DAEMON_NODE_FLAGS } from '../../daemon/node-flags.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sumMetric } from './prom-text.js';
import type { Lab } from './lab.js';
import { inNs, mustInNs, type RunResult } from './shell.js';

export const HEALTHZ_PORT = 8081;

function projectRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}

/**
 * The overlayd command as installed (package.json bin, deploy/): tools/bundle.mjs's one-file
 * build of dist/daemon/main.js, so every e2e test runs what systemd and the DaemonSet run.
 */
export const DAEMON_MAIN = join(projectRoot(), 'dist', 'bundle', 'main.js');

export interface StartOptions {
  /** Extra flags after the lab's defaults. */
  readonly flags?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** Wait for /readyz (default true). */
  readonly waitReady?: boolean;
  /** The entry point to run (default DAEMON_MAIN, the bundle): bench/startup compares it with tsc's. */
  readonly main?: string;
}

export class LabNode {
  private proc: ChildProcess | undefined;
  private exited: Promise<number | null> | undefined;
  private starts = 0;

  constructor(
    readonly lab: Lab,
    readonly index: number,
    readonly ns: string,
    readonly ip: string,
    /** The node's ULA IPv6 underlay address on eth0. */
    readonly ip6: string,
  ) {}

  get subnetFile(): string {
    return join(this.lab.dir, `n${this.index}`, 'subnet.env');
  }
  /** Per node: lab nodes share one filesystem, so the default /run/flannel/overlayd.sock would clash. */
  get statusSocket(): string {
    return join(this.lab.dir, `n${this.index}`, 'overlayd.sock');
  }
  get logFile(): string {
    return join(this.lab.dir, `n${this.index}.log`);
  }
  get healthUrl(): string {
    return `http://${this.ip}:${HEALTHZ_PORT}`;
  }
  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }
  get pid(): number | undefined {
    return this.proc?.pid;
  }

  exec(
    cmd: string,
    args: readonly string[],
    opts?: { timeoutMs?: number; input?: string },
  ): Promise<RunResult> {
    return inNs(this.ns, cmd, args, opts);
  }
  mustExec(
    cmd: string,
    args: readonly string[],
    opts?: { timeoutMs?: number; input?: string },
  ): Promise<string> {
    return mustInNs(this.ns, cmd, args, opts);
  }

  defaultFlags(): string[] {
    return [
      ...this.lab.etcdFlags(this.index),
      `--etcd-prefix=${this.lab.prefix}`,
      `--subnet-file=${this.subnetFile}`,
      `--healthz-ip=0.0.0.0`,
      `--healthz-port=${HEALTHZ_PORT}`,
      `--status-socket=${this.statusSocket}`,
      '--iface=eth0',
      '--log-level=debug',
    ];
  }

  /** Starts overlayd in this node's namespace; logs append to logFile. */
  async startDaemon(opts: StartOptions = {}): Promise<void> {
    if (this.running) throw new Error(`node ${this.index}: daemon already running`);
    this.starts++;
    appendFileSync(this.logFile, `--- start ${this.starts} ---\n`);
    // The daemon writes straight into the file (no pipe through this process): a line it wrote
    // is in the file whatever this busy test process is doing, and all of it is there at exit.
    const out = openSync(this.logFile, 'a');
    const proc = spawn(
      'ip',
      [
        'netns',
        'exec',
        this.ns,
        process.execPath,
        ...DAEMON_NODE_FLAGS,
        opts.main ?? DAEMON_MAIN,
        ...this.defaultFlags(),
        ...(opts.flags ?? []),
      ],
      {
        stdio: ['ignore', out, out],
        env: { PATH: process.env['PATH'] ?? '/usr/sbin:/usr/bin:/sbin:/bin', ...opts.env },
      },
    );
    closeSync(out); // the child holds its own copy
    this.proc = proc;
    this.exited = new Promise((resolve) => proc.once('exit', (code) => resolve(code)));
    if (opts.waitReady ?? true) await this.waitReady();
  }

  /** Runs `overlayd status|diagnose …` in this node's namespace with the daemon's default flags. */
  tool(cmd: 'status' | 'diagnose', args: readonly string[] = [], timeoutMs = 60_000): Promise<RunResult> {
    return inNs(this.ns, process.execPath, [DAEMON_MAIN, cmd, ...args, ...this.defaultFlags()], {
      timeoutMs,
    });
  }

  /** Stops the daemon (SIGTERM: clean; SIGKILL: a crash) and returns its exit code. */
  async stopDaemon(signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    const proc = this.proc;
    if (!proc) return null;
    if (this.running) proc.kill(signal);
    const code = await this.exited;
    this.proc = undefined;
    return code ?? null;
  }

  /** Resolves with the exit code once the daemon exits by itself. */
  waitExit(): Promise<number | null> {
    return this.exited ?? Promise.resolve(null);
  }

  async health(path: '/healthz' | '/readyz' | '/metrics'): Promise<{ status: number; body: string }> {
    // Generous: a one-shot read on a loaded CI machine must not fail because the daemon's event
    // loop was busy for two seconds; polls retry anyway, and a hung daemon still fails the test.
    const res = await fetch(this.healthUrl + path, { signal: AbortSignal.timeout(10_000) });
    return { status: res.status, body: await res.text() };
  }

  /**
   * Sum of a metric's samples: `name` exactly, or `name{label="value",...}` with those label values
   * exactly (others summed over). Throws when /metrics does not expose the metric at all.
   */
  async metric(selector: string): Promise<number> {
    return sumMetric((await this.health('/metrics')).body, selector);
  }

  async waitReady(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running)
        throw new Error(`node ${this.index}: daemon exited before ready:\n${this.logTail()}`);
      try {
        if ((await this.health('/readyz')).status === 200) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`node ${this.index}: not ready after ${timeoutMs} ms:\n${this.logTail()}`);
  }

  logTail(lines = 30): string {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /** Parsed JSON log lines of this node (all starts). */
  async logs(): Promise<Array<Record<string, unknown>>> {
    const text = await readFile(this.logFile, 'utf8').catch(() => '');
    return text
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  /**
   * The log lines matching `match`, once at least `atLeast` of them are in the log file. pino
   * writes asynchronously, so a line the daemon logged just before a metric changed can still be
   * on its way to the file when the metric is read. Fails with the log tail when the lines never
   * come.
   */
  async waitForLogs(
    match: (line: Record<string, unknown>) => boolean,
    { atLeast = 1, timeoutMs = 20_000 }: { atLeast?: number; timeoutMs?: number } = {},
  ): Promise<Array<Record<string, unknown>>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = (await this.logs()).filter(match);
      if (found.length >= atLeast) return found;
      if (Date.now() > deadline)
        throw new Error(
          `node ${this.index}: ${found.length} of ${atLeast} expected log lines after ${timeoutMs} ms:\n${this.logTail()}`,
        );
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /**
   * Writes the subnet.env a daemon would (network 10.244.0.0/16, no masquerade), for setups built
   * by hand without one: the CNI bridge plugin reads it to attach pods.
   */
  async writeSubnetEnv(subnet: string, mtu: number): Promise<void> {
    await mkdir(dirname(this.subnetFile), { recursive: true });
    await writeFile(
      this.subnetFile,
      `FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=${subnet}\nFLANNEL_MTU=${mtu}\nFLANNEL_IPMASQ=false\n`,
    );
  }

  async subnetEnv(): Promise<Record<string, string>> {
    const text = await readFile(this.subnetFile, 'utf8');
    return Object.fromEntries(
      text
        .trim()
        .split('\n')
        .map((l) => l.split('=') as [string, string]),
    );
  }
}
