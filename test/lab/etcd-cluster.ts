/**
 * A production-shaped etcd for the lab: three members in their own namespaces on the underlay
 * (198.18.K.101-103), mutual TLS on client and peer URLs with certificates from a throwaway CA
 * (test/lab/certs.ts; each member's certificate carries its IP), --client-cert-auth and a CRL.
 * Faults an operator meets: the leader killed, a member partitioned, quorum lost, a member's data
 * wiped and the member re-joined the way etcd's runtime-reconfiguration guide says (remove, add,
 * start with --initial-cluster-state=existing).
 */
import { join } from 'node:path';
import { Etcd3 } from 'etcd3';
import { readFileSync } from 'node:fs';
import { TestCa, type CertFiles, type IssueOptions } from './certs.js';
import { EtcdServer } from './etcd-server.js';
import { mustInNs } from './shell.js';

export interface ClusterHost {
  readonly id: string;
  readonly octet: number;
  readonly dir: string;
  /** Creates namespace ns with eth0 on the lab switch at ip. */
  attach(ns: string, port: string, ip: string): Promise<void>;
}

export const MEMBERS = 3;

export class EtcdCluster {
  readonly members: EtcdServer[] = [];
  /** The test's own client identity: CN=root, which etcd maps to the root user under auth. */
  root!: CertFiles;

  private constructor(
    readonly ca: TestCa,
    readonly pki: string,
    readonly crlFile: string,
  ) {}

  static memberIp(octet: number, i: number): string {
    return `198.18.${octet}.${100 + i}`;
  }

  static async start(host: ClusterHost): Promise<EtcdCluster> {
    const pki = join(host.dir, 'pki');
    const ca = await TestCa.create(join(pki, 'ca'));
    const crlFile = join(pki, 'crl.pem');
    await ca.writeCrl(crlFile);
    const cluster = new EtcdCluster(ca, pki, crlFile);
    cluster.root = await ca.issue(pki, 'root', { cn: 'root', usage: 'client' });
    const ips = Array.from({ length: MEMBERS }, (_, k) => EtcdCluster.memberIp(host.octet, k + 1));
    const initialCluster = ips.map((ip, k) => `etcd${k + 1}=https://${ip}:2380`).join(',');
    const token = `${host.id}-etcd`;
    for (let i = 1; i <= MEMBERS; i++) {
      const ip = ips[i - 1]!;
      await host.attach(`${host.id}-etcd${i}`, `e${i}`, ip);
      const server = await ca.issue(pki, `etcd${i}`, { cn: `etcd${i}`, ips: [ip], usage: 'both' });
      cluster.members.push(
        await EtcdServer.spawn({
          netns: `${host.id}-etcd${i}`,
          host: ip,
          tls: {
            ca: ca.cert,
            ...server,
            clientCertAuth: true,
            crlFile,
            probe: cluster.root,
          },
          cluster: { name: `etcd${i}`, initialCluster, token },
        }),
      );
    }
    await Promise.all(cluster.members.map((m) => m.waitHealthy()));
    return cluster;
  }

  get endpoints(): string[] {
    return this.members.map((m) => m.endpoint);
  }

  /** A client certificate from the cluster's CA (for a node, or a deliberately bad one). */
  issue(
    name: string,
    opts: Omit<IssueOptions, 'usage'> & { usage?: IssueOptions['usage'] },
  ): Promise<CertFiles> {
    return this.ca.issue(this.pki, name, { usage: 'client', ...opts });
  }

  /**
   * Client of all members as root. Its calls have a deadline (and its connections keepalive), so a
   * write the test makes during a partition moves to a reachable member instead of hanging on the
   * cut-off one until TCP gives up.
   */
  client(): Etcd3 {
    return new Etcd3({
      hosts: this.endpoints,
      dialTimeout: 3000,
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + 5000 }),
      grpcOptions: { 'grpc.keepalive_time_ms': 10_000, 'grpc.keepalive_timeout_ms': 5_000 },
      credentials: {
        rootCertificate: readFileSync(this.ca.cert),
        certChain: readFileSync(this.root.cert),
        privateKey: readFileSync(this.root.key),
      },
    });
  }

  /** The member that is raft leader now (asked of every running member; undefined without quorum). */
  async leader(): Promise<EtcdServer | undefined> {
    for (const m of this.members) {
      if (!m.running) continue;
      const c = m.client(1000);
      try {
        const s = await c.maintenance.status().catch(() => undefined);
        if (s && s.leader !== '0' && s.leader === s.header.member_id) return m;
      } finally {
        c.close();
      }
    }
    return undefined;
  }

  /** Cuts a member off the underlay (packets silently dropped both ways, as a failed link). */
  async partition(m: EtcdServer): Promise<void> {
    for (const chain of [
      ['INPUT', '-i'],
      ['OUTPUT', '-o'],
    ])
      await mustInNs(m.netns!, 'iptables', ['-I', chain[0]!, chain[1]!, 'eth0', '-j', 'DROP']);
  }

  async heal(m: EtcdServer): Promise<void> {
    for (const chain of [
      ['INPUT', '-i'],
      ['OUTPUT', '-o'],
    ])
      await mustInNs(m.netns!, 'iptables', ['-D', chain[0]!, chain[1]!, 'eth0', '-j', 'DROP']);
  }

  /** The member loses its disk: killed, its data dir wiped. `rejoin` brings it back. */
  async wipe(m: EtcdServer): Promise<void> {
    await m.kill();
    await m.wipe();
  }

  /**
   * A wiped member comes back the way etcd's runtime-reconfiguration guide says: removed from the
   * cluster, added back as a new member, started with --initial-cluster-state=existing (it gets
   * the data from the leader).
   */
  async rejoin(m: EtcdServer): Promise<void> {
    const c = this.client();
    try {
      const list = await c.cluster.memberList({});
      const old = list.members.find((x) => x.name === m.name || x.peerURLs.includes(m.peerUrl));
      if (old) await c.cluster.memberRemove({ ID: old.ID });
      await c.cluster.memberAdd({ peerURLs: [m.peerUrl] });
    } finally {
      c.close();
    }
    m.membership!.state = 'existing';
    await m.restart();
  }

  /** Kills every member and starts them again on their data (reconnects every client). */
  async restartAll(): Promise<void> {
    for (const m of this.members) await m.kill();
    for (const m of this.members) await m.restart({ waitHealthy: false });
    await Promise.all(this.members.map((m) => m.waitHealthy()));
  }

  /** Revokes a certificate and rewrites the CRL the members read. */
  async revoke(cert: string): Promise<void> {
    await this.ca.revoke(cert);
    await this.ca.writeCrl(this.crlFile);
  }

  async stop(): Promise<void> {
    await Promise.all(this.members.map((m) => m.stop()));
  }
}
