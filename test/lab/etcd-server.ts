/**
 * A real etcd server for tests, the demo and the bench: on a free loopback port with a temp data
 * dir, or inside a network namespace on a given address. Stop kills it; `restart` keeps or wipes
 * the data dir (the data-loss fault). With `tls` it serves https on client and peer URLs and can
 * require client certificates; with `cluster` it is one member of a multi-member cluster
 * (etcd-cluster.ts starts three).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
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
  readonly tls?: EtcdTls;
  readonly cluster?: EtcdMembership;
}

/** TLS of one member: the same certificate serves clients and peers (SANs hold its address). */
export interface EtcdTls {
  readonly ca: string;
  readonly cert: string;
  readonly key: string;
  /** --client-cert-auth (and --peer-client-cert-auth): clients must show a certificate of `ca`. */
  readonly clientCertAuth: boolean;
  /** --client-crl-file: certificates revoked here are refused. */
  readonly crlFile?: string;
  /** Credentials the health probe and client() use (a client certificate of `ca`). */
  readonly probe: { readonly cert: string; readonly key: string };
}

export interface EtcdMembership {
  readonly name: string;
  /** name=peerURL,... of every member. */
  readonly initialCluster: string;
  readonly token: string;
  /** `existing` to join a running cluster after `member add`. */
  state?: 'new' | 'existing';
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
    readonly host: string,
    clientPort: number,
    private readonly peerPort: number,
    readonly netns: string | undefined,
    readonly tls: EtcdTls | undefined,
    readonly membership: EtcdMembership | undefined,
  ) {
    this.endpoint = `${tls ? 'https' : 'http'}://${host}:${clientPort}`;
  }

  get peerUrl(): string {
    return `${this.tls ? 'https' : 'http'}://${this.host}:${this.peerPort}`;
  }
  get name(): string {
    return this.membership?.name ?? 'overlayd-test';
  }

  static async start(opts: EtcdServerOptions = {}): Promise<EtcdServer> {
    const dataDir = await mkdtemp(join(tmpdir(), 'overlayd-etcd-'));
    const host = opts.host ?? '127.0.0.1';
    const clientPort = opts.clientPort ?? (await freePort());
    const peerPort = opts.peerPort ?? (await freePort());
    const server = new EtcdServer(dataDir, host, clientPort, peerPort, opts.netns, opts.tls, opts.cluster);
    await server.launch();
    return server;
  }

  /** Like start, without waiting for health: members of a new cluster only serve once a quorum is up. */
  static async spawn(opts: EtcdServerOptions & { host: string; netns: string }): Promise<EtcdServer> {
    const dataDir = await mkdtemp(join(tmpdir(), 'overlayd-etcd-'));
    const server = new EtcdServer(
      dataDir,
      opts.host,
      opts.clientPort ?? 2379,
      opts.peerPort ?? 2380,
      opts.netns,
      opts.tls,
      opts.cluster,
    );
    server.spawnProcess();
    return server;
  }

  get running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  get log(): string {
    return this.output;
  }

  private async launch(): Promise<void> {
    await this.waitHealthy(this.spawnProcess());
  }

  private tlsArgs(): string[] {
    const t = this.tls;
    if (!t) return [];
    return [
      `--trusted-ca-file=${t.ca}`,
      `--cert-file=${t.cert}`,
      `--key-file=${t.key}`,
      `--client-cert-auth=${t.clientCertAuth}`,
      `--peer-trusted-ca-file=${t.ca}`,
      `--peer-cert-file=${t.cert}`,
      `--peer-key-file=${t.key}`,
      `--peer-client-cert-auth=${t.clientCertAuth}`,
      ...(t.crlFile ? [`--client-crl-file=${t.crlFile}`] : []),
    ];
  }

  private spawnProcess(): ChildProcess {
    const peer = this.peerUrl;
    const m = this.membership;
    const args = [
      '--name',
      this.name,
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
      m?.initialCluster ?? `overlayd-test=${peer}`,
      ...(m ? ['--initial-cluster-token', m.token, '--initial-cluster-state', m.state ?? 'new'] : []),
      ...this.tlsArgs(),
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
    return proc;
  }

  /** Waits until this member serves a (linearizable) read: it is up and part of a quorum. */
  async waitHealthy(proc: ChildProcess | undefined = this.proc, timeoutMs = 20_000): Promise<void> {
    if (!proc) throw new Error(`etcd ${this.name} is not running`);
    const client = this.client(500);
    const deadline = Date.now() + timeoutMs;
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

  /** A client of this member only (with the probe's client certificate under TLS). */
  client(dialTimeout = 2000): Etcd3 {
    const t = this.tls;
    return new Etcd3({
      hosts: this.endpoint,
      dialTimeout,
      ...(t
        ? {
            credentials: {
              rootCertificate: readFileSync(t.ca),
              certChain: readFileSync(t.probe.cert),
              privateKey: readFileSync(t.probe.key),
            },
          }
        : {}),
    });
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
  async restart(opts: { wipe?: boolean; waitHealthy?: boolean } = {}): Promise<void> {
    await this.kill();
    if (opts.wipe) await this.wipe();
    if (opts.waitHealthy ?? true) await this.launch();
    else this.spawnProcess();
  }

  /** Removes the member's data (it must be stopped). */
  async wipe(): Promise<void> {
    await rm(join(this.dataDir, 'member'), { recursive: true, force: true });
  }

  async stop(): Promise<void> {
    await this.kill();
    await rm(this.dataDir, { recursive: true, force: true });
  }
}
