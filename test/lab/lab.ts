/**
 * The lab: a small cluster on one machine, shared by the end-to-end tests, the demo and the bench.
 *
 *   host ── ovh<id> 198.18.K.254 ─┐
 *                                 br0 (in <id>-sw)
 *   <id>-etcd  eth0 198.18.K.100 ─┤   real etcd
 *   <id>-n1    eth0 198.18.K.1  ──┤   overlayd, pods behind cni0
 *   <id>-n2    eth0 198.18.K.2  ──┘   …
 *
 * Every eth0 also has a ULA address, fd00:198:18:K::<i>/64 (the IPv6 underlay of dual-stack runs).
 * K is 1..250, so 198.18.0.0/24 is never a lab's: leases written by hand for peers that do not
 * exist take their PublicIP from there (one from 198.18.K.0/24 could be a node's own address).
 * With `etcd: 'tls-cluster'` etcd is three TLS members <id>-etcd1..3 at 198.18.K.101-103 instead
 * (etcd-cluster.ts), and every node gets all three endpoints and a client certificate.
 *
 * Names carry the creating pid, so a later run can remove what a crashed run left (`cleanupStale`).
 * All traffic stays inside these namespaces and the host's veth into them.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { EtcdCluster } from './etcd-cluster.js';
import { EtcdServer } from './etcd-server.js';
import type { CertFiles } from './certs.js';
import { LabNode } from './lab-node.js';
import { must, run } from './shell.js';

export interface LabOptions {
  readonly nodes: number;
  /** Network config written to etcd before any daemon starts (omit to write none). */
  readonly networkConfig?: object;
  readonly etcdPrefix?: string;
  /** One plain member (default, the fast tests) or a three-member mutual-TLS cluster. */
  readonly etcd?: 'single' | 'tls-cluster';
}

const PREFIX = 'ovl-';

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function deleteNamespace(ns: string): Promise<void> {
  const pids = (await run('ip', ['netns', 'pids', ns])).stdout.split(/\s+/).filter(Boolean);
  for (const p of pids) {
    try {
      process.kill(Number(p), 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await run('ip', ['netns', 'del', ns]);
}

/** Removes namespaces left by lab runs whose process is gone. */
export async function cleanupStale(): Promise<number> {
  const list = (await run('ip', ['netns', 'list'])).stdout;
  let removed = 0;
  for (const line of list.split('\n')) {
    const ns = line.split(' ')[0] ?? '';
    const m = /^ovl-(\d+)-[0-9a-f]+-/.exec(ns);
    if (!m || pidAlive(Number(m[1]))) continue;
    await deleteNamespace(ns);
    removed++;
  }
  return removed;
}

async function pickUnderlayOctet(): Promise<number> {
  const routes =
    (await run('ip', ['-4', 'route', 'show'])).stdout + (await run('ip', ['-4', 'addr', 'show'])).stdout;
  for (let tries = 0; tries < 100; tries++) {
    const k = 1 + Math.floor(Math.random() * 250);
    if (!routes.includes(`198.18.${k}.`)) return k;
  }
  throw new Error('no free 198.18.K.0/24 underlay for the lab');
}

export class Lab {
  readonly nodes: LabNode[] = [];
  etcd!: EtcdServer;
  /** Set for a tls-cluster lab; `etcd` is then its first member. */
  cluster: EtcdCluster | undefined;
  /** Each node's client certificate in a tls-cluster lab, by node index. */
  readonly nodeCerts = new Map<number, CertFiles>();
  private destroyed = false;

  private constructor(
    readonly id: string,
    readonly octet: number,
    readonly dir: string,
    readonly prefix: string,
  ) {}

  get switchNs(): string {
    return `${this.id}-sw`;
  }
  get etcdNs(): string {
    return `${this.id}-etcd`;
  }
  get etcdIp(): string {
    return `198.18.${this.octet}.100`;
  }
  get hostIf(): string {
    return `ovh${this.id.slice(-8)}`;
  }
  underlayIp(i: number): string {
    return `198.18.${this.octet}.${i}`;
  }
  /** The node's IPv6 underlay address: ULA, only ever inside the lab's namespaces. */
  underlayIpv6(i: number): string {
    return `fd00:198:18:${this.octet.toString(16)}::${i.toString(16)}`;
  }

  static async create(opts: LabOptions): Promise<Lab> {
    await cleanupStale();
    const id = `${PREFIX}${process.pid}-${randomBytes(3).toString('hex')}`;
    const lab = new Lab(
      id,
      await pickUnderlayOctet(),
      await mkdtemp(join(tmpdir(), 'overlayd-lab-')),
      opts.etcdPrefix ?? '/coreos.com/network',
    );
    try {
      await lab.build(opts);
    } catch (err) {
      await lab.destroy();
      throw err;
    }
    return lab;
  }

  private async build(opts: LabOptions): Promise<void> {
    const sw = this.switchNs;
    await must('ip', ['netns', 'add', sw]);
    await must('ip', ['-n', sw, 'link', 'set', 'lo', 'up']);
    await must('ip', ['-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
    await must('ip', ['-n', sw, 'link', 'set', 'br0', 'up']);
    // The host's way in: tests talk to etcd and the health ports over it.
    await must('ip', ['link', 'add', this.hostIf, 'type', 'veth', 'peer', 'name', 'up0', 'netns', sw]);
    await must('ip', ['-n', sw, 'link', 'set', 'up0', 'master', 'br0', 'up']);
    await must('ip', ['addr', 'add', `198.18.${this.octet}.254/24`, 'dev', this.hostIf]);
    await must('ip', ['link', 'set', this.hostIf, 'up']);

    if (opts.etcd === 'tls-cluster') {
      this.cluster = await EtcdCluster.start({
        id: this.id,
        octet: this.octet,
        dir: this.dir,
        attach: (ns, port, ip) => this.attach(ns, port, ip, undefined),
      });
      this.etcd = this.cluster.members[0]!;
    } else {
      await this.attach(this.etcdNs, 'etcd', this.etcdIp, undefined, this.underlayIpv6(100));
      this.etcd = await EtcdServer.start({
        netns: this.etcdNs,
        host: this.etcdIp,
        clientPort: 2379,
        peerPort: 2380,
      });
    }
    if (opts.networkConfig) await this.putConfig(opts.networkConfig);
    for (let i = 1; i <= opts.nodes; i++) {
      const ns = `${this.id}-n${i}`;
      await this.attach(ns, `n${i}`, this.underlayIp(i), this.etcdIp, this.underlayIpv6(i));
      if (this.cluster) this.nodeCerts.set(i, await this.cluster.issue(`node${i}`, { cn: `node${i}` }));
      this.nodes.push(new LabNode(this, i, ns, this.underlayIp(i), this.underlayIpv6(i)));
    }
  }

  /** The etcd flags a node of this lab starts with: endpoints, and the TLS files in a cluster lab. */
  etcdFlags(index: number): string[] {
    const cert = this.nodeCerts.get(index);
    if (!this.cluster || !cert) return [`--etcd-endpoints=${this.etcdEndpoint}`];
    return [
      `--etcd-endpoints=${this.etcdEndpoint}`,
      `--etcd-cafile=${this.cluster.ca.cert}`,
      `--etcd-certfile=${cert.cert}`,
      `--etcd-keyfile=${cert.key}`,
    ];
  }

  /** A namespace with eth0 on the switch; its default route (if any) points at a host that does not forward. */
  async attach(
    ns: string,
    port: string,
    ip: string,
    defaultVia: string | undefined,
    ip6?: string,
  ): Promise<void> {
    await must('ip', ['netns', 'add', ns]);
    await must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    await must('ip', [
      '-n',
      this.switchNs,
      'link',
      'add',
      port,
      'type',
      'veth',
      'peer',
      'name',
      'eth0',
      'netns',
      ns,
    ]);
    await must('ip', ['-n', this.switchNs, 'link', 'set', port, 'master', 'br0', 'up']);
    await must('ip', ['-n', ns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0']);
    // nodad: the address is usable at once (no duplicate-address probe to wait out).
    if (ip6) await must('ip', ['-n', ns, 'addr', 'add', `${ip6}/64`, 'dev', 'eth0', 'nodad']);
    await must('ip', ['-n', ns, 'link', 'set', 'eth0', 'up']);
    if (defaultVia) await must('ip', ['-n', ns, 'route', 'add', 'default', 'via', defaultVia]);
  }

  get etcdEndpoint(): string {
    return this.cluster ? this.cluster.endpoints.join(',') : `http://${this.etcdIp}:2379`;
  }

  client(): Etcd3 {
    return this.cluster?.client() ?? new Etcd3({ hosts: this.etcdEndpoint, dialTimeout: 3000 });
  }

  async putConfig(config: object | string): Promise<void> {
    const c = this.client();
    try {
      await c
        .put(`${this.prefix}/config`)
        .value(typeof config === 'string' ? config : JSON.stringify(config))
        .exec();
    } finally {
      c.close();
    }
  }

  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    for (const n of this.nodes) await n.stopDaemon('SIGKILL').catch(() => undefined);
    if (this.cluster) await this.cluster.stop().catch(() => undefined);
    else await this.etcd?.stop().catch(() => undefined);
    // Every namespace of this lab (nodes, pods, etcd, switch) carries its id.
    const all = (await run('ip', ['netns', 'list'])).stdout.split('\n').map((l) => l.split(' ')[0] ?? '');
    for (const ns of all.filter((n) => n.startsWith(`${this.id}-`)).sort((a, b) => b.length - a.length))
      await deleteNamespace(ns);
    await run('ip', ['link', 'del', this.hostIf]);
    await rm(this.dir, { recursive: true, force: true });
  }
}
