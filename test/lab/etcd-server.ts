/**
 * A real etcd server for tests, the demo and the bench: on a free loopback port with a temp data
 * dir, or inside a network namespace on a given address. Stop kills it; `restart` keeps or wipes
 * the data dir (the data-loss fault).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';

export interface EtcdServerOptions {
  /** Run inside this network namespace (ip netns exec). */
  readonly netns?: string;
  /** Address to listen on; default 127.0.0.1. */
  readonly host?: string;
  readonly clientPort?: number;
  readonly peerPort?: number;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

export class EtcdServer {
  private proc: ChildProcess | undefined;
  private output = '';
  readonly endpoint: string;

  private constructor(
    private readonly dataDir: string,
    private readonly host: string,
    clientPort: number,
    private readonly peerPort: number,
    private readonly netns: string | undefined,
  ) {
    this.endpoint = `http://${host}:${clientPort}`;
  }

  static async start(opts: EtcdServerOptions = {}): Promise<EtcdServer> {
    const dataDir = await mkdtemp(join(tmpdir(), 'overlayd-etcd-'));
    const host = opts.host ?? '127.0.0.1';
    const clientPort = opts.clientPort ?? (await freePort());
    const peerPort = opts.peerPort ?? (await freePort());
    const server = new EtcdServer(dataDir, host, clientPort, peerPort, opts.netns);
    await server.launch();
    return server;
  }

  get log(): string {
    return this.output;
  }

  private async launch(): Promise<void> {
    const peer = `http://${this.host}:${this.peerPort}`;
    const args = [
      '--name',
      'overlayd-test',
      '--data-dir',
      this.dataDir,
      '--listen-client-urls',
      this.endpoint,
      '--advertise-client-urls',
      this.endpoint,
      '--listen-peer-urls',
      peer,
      '--initial-advertise-peer-urls',
      peer,
      '--initial-cluster',
      `overlayd-test=${peer}`,
      '--log-level',
      'warn',
    ];
    const cmd = this.netns ? ['ip', 'netns', 'exec', this.netns, 'etcd', ...args] : ['etcd', ...args];
    const proc = spawn(cmd[0]!, cmd.slice(1), {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ETCD_UNSUPPORTED_ARCH: process.arch === 'x64' ? '' : process.arch },
    });
    this.proc = proc;
    const keep = (b: Buffer): void => {
      this.output = (this.output + b.toString()).slice(-20_000);
    };
    proc.stdout!.on('data', keep);
    proc.stderr!.on('data', keep);
    await this.waitHealthy(proc);
  }

  private async waitHealthy(proc: ChildProcess): Promise<void> {
    const client = new Etcd3({ hosts: this.endpoint, dialTimeout: 500 });
    const deadline = Date.now() + 20_000;
    try {
      while (Date.now() < deadline) {
        if (proc.exitCode !== null)
          throw new Error(`etcd exited with ${proc.exitCode}: ${this.output.slice(-2000)}`);
        try {
          await client
            .get('health-probe')
            .options({ deadline: Date.now() + 500 })
            .string();
          return;
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      throw new Error(`etcd did not become healthy at ${this.endpoint}: ${this.output.slice(-2000)}`);
    } finally {
      client.close();
    }
  }

  client(): Etcd3 {
    return new Etcd3({ hosts: this.endpoint, dialTimeout: 2000 });
  }

  /** Kills the process (SIGKILL: an outage, not a graceful stop). */
  async kill(): Promise<void> {
    const proc = this.proc;
    this.proc = undefined;
    if (!proc || proc.exitCode !== null) return;
    const exited = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await exited;
  }

  /** Starts it again on the same address; with wipe, on a fresh data dir (data loss). */
  async restart(opts: { wipe?: boolean } = {}): Promise<void> {
    await this.kill();
    if (opts.wipe) await rm(join(this.dataDir, 'member'), { recursive: true, force: true });
    await this.launch();
  }

  async stop(): Promise<void> {
    await this.kill();
    await rm(this.dataDir, { recursive: true, force: true });
  }
}
