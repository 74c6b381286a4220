/**
 * etcd as production runs it: three members with mutual TLS (test/lab/etcd-cluster.ts), auth, a
 * CRL. Each TLS or auth mistake an operator can make is made here against the real members; the
 * daemon must say it in one line naming the flag, file or user and the fix, keep retrying (never
 * exit) and recover once the files are fixed in place. Certificate rotation is proved by revoking
 * the old client certificates: only a node that picked up its replaced files gets back in.
 */
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCa, type CertFiles } from './lab/certs.js';
import { EtcdServer } from './lab/etcd-server.js';
import { Lab } from './lab/lab.js';
import type { LabNode } from './lab/lab-node.js';

const CONFIG = { Network: '10.244.0.0/16', Backend: { Type: 'alloc' } };

async function logged(n: LabNode, re: RegExp, level?: number): Promise<boolean> {
  return (await n.logs()).some(
    (l) => re.test(String(l['msg'])) && (level === undefined || l['level'] === level),
  );
}

describe('etcd over mutual TLS (three members)', () => {
  let lab: Lab;
  let n1: LabNode;
  let n2: LabNode;
  let files: (i: number) => CertFiles;
  beforeAll(async () => {
    lab = await Lab.create({ nodes: 2, etcd: 'tls-cluster', networkConfig: CONFIG });
    [n1, n2] = lab.nodes as [LabNode, LabNode];
    files = (i) => lab.nodeCerts.get(i)!;
    await n1.startDaemon();
  });
  afterAll(async () => {
    await lab?.destroy();
  });

  it('leases over mutual TLS with all three members as endpoints', async () => {
    expect(lab.etcdEndpoint.split(',')).toHaveLength(3);
    expect(lab.etcdEndpoint).toMatch(/^https:/);
    const c = lab.client();
    try {
      const keys = await c.getAll().prefix(`${lab.prefix}/subnets/`).keys();
      expect(keys).toHaveLength(1);
      expect(await c.get(keys[0]!).string()).toContain(n1.ip);
    } finally {
      c.close();
    }
  });

  /**
   * Starts node 2 with the given overrides; waits for the one error line (at error level, once,
   * retried every second), checks the daemon keeps running and retrying, unready.
   */
  async function expectProblem(flags: string[], line: RegExp): Promise<string> {
    await n2.startDaemon({ flags, waitReady: false });
    try {
      await expect
        .poll(() => logged(n2, new RegExp(`${line.source}.* \\(retrying every 1 s\\)$`), 50), {
          timeout: 30_000,
        })
        .toBe(true);
      // Retried, not crash-looped: still running, not ready, counting the failures.
      await expect
        .poll(() => n2.metric('overlayd_etcd_request_errors_total{op="config"}'), { timeout: 20_000 })
        .toBeGreaterThanOrEqual(3);
      expect(n2.running).toBe(true);
      expect((await n2.health('/readyz')).status).toBe(503);
      const msg = String((await n2.logs()).find((l) => line.test(String(l['msg'])))!['msg']);
      console.log(`operator line: ${msg}`);
      expect(msg).not.toContain('\n');
      return msg;
    } finally {
      await n2.stopDaemon();
    }
  }

  it('wrong CA: names --etcd-cafile and the CA to give', async () => {
    const other = await TestCa.create(join(lab.dir, 'other-ca'), 'other-ca');
    await expectProblem(
      [`--etcd-cafile=${other.cert}`],
      new RegExp(
        `^etcd get ${lab.prefix}/config failed: TLS to etcd https://\\S+: the member's certificate is not signed by the CA in --etcd-cafile ${other.cert} .*; give the CA that issued the etcd members' certificates`,
      ),
    );
  });

  it('expired and not-yet-valid client certificates: names --etcd-certfile and the date', async () => {
    const day = 86_400_000;
    const expired = await lab.cluster!.issue('expired', {
      cn: 'node2',
      notBefore: new Date(Date.now() - 2 * day),
      notAfter: new Date(Date.now() - day),
    });
    await expectProblem(
      [`--etcd-certfile=${expired.cert}`, `--etcd-keyfile=${expired.key}`],
      new RegExp(`--etcd-certfile ${expired.cert} expired at \\S+Z; renew it`),
    );
    const future = await lab.cluster!.issue('future', {
      cn: 'node2',
      notBefore: new Date(Date.now() + day),
      notAfter: new Date(Date.now() + 2 * day),
    });
    await expectProblem(
      [`--etcd-certfile=${future.cert}`, `--etcd-keyfile=${future.key}`],
      new RegExp(`--etcd-certfile ${future.cert} is not valid before \\S+Z; check this host's clock`),
    );
  });

  it('a member whose certificate lacks its IP: names the member and the SAN to add', async () => {
    const ip = `198.18.${lab.octet}.110`;
    await lab.attach(`${lab.id}-etcdbad`, 'ebad', ip, undefined);
    const cl = lab.cluster!;
    const cert = await cl.ca.issue(cl.pki, 'etcd-bad-san', {
      cn: 'bad',
      ips: [`198.18.${lab.octet}.200`],
      usage: 'both',
    });
    const member = await EtcdServer.spawn({
      netns: `${lab.id}-etcdbad`,
      host: ip,
      tls: { ca: cl.ca.cert, ...cert, clientCertAuth: true, probe: cl.root },
    });
    try {
      await expectProblem(
        [`--etcd-endpoints=https://${ip}:2379`],
        new RegExp(
          `TLS to etcd member ${ip.replace(/\./g, '\\.')}: its certificate does not name it \\(it holds 198\\.18\\.${lab.octet}\\.200\\); reissue the member's certificate with IP:${ip.replace(/\./g, '\\.')} in subjectAltName`,
        ),
      );
    } finally {
      await member.stop();
    }
  });

  it('a key that is not the certificate’s: named at start-up with both files; fixing the file in place is enough', async () => {
    const keyfile = join(lab.dir, 'n2-key.pem');
    await copyFile(files(1).key, keyfile); // node 1's key beside node 2's certificate
    const start = `--etcd-keyfile ${keyfile} is not the key of --etcd-certfile ${files(2).cert}; give the key the certificate was issued for`;
    await n2.startDaemon({ flags: [`--etcd-keyfile=${keyfile}`], waitReady: false });
    try {
      // At start-up, before any etcd call, from node:crypto's checkPrivateKey.
      await expect.poll(() => logged(n2, new RegExp(`^${start}`), 40), { timeout: 20_000 }).toBe(true);
      await expect
        .poll(
          () =>
            logged(
              n2,
              new RegExp(`^etcd get ${lab.prefix}/config failed: ${start}.*\\(retrying every 1 s\\)$`),
              50,
            ),
          {
            timeout: 20_000,
          },
        )
        .toBe(true);
      expect(n2.running).toBe(true);
      await copyFile(files(2).key, keyfile); // the operator fixes the file; no restart
      await n2.waitReady(30_000);
      expect(
        await logged(n2, /^etcd TLS files changed: new etcd connections use the certificate CN=node2 /, 30),
      ).toBe(true);
    } finally {
      await n2.stopDaemon();
    }
  });

  it('certificate rotation: replaced files are used on the next connection, no restart; the old ones are refused', async () => {
    const cl = lab.cluster!;
    await n2.startDaemon();
    const c = lab.client();
    const key = `${lab.prefix}/subnets/10.244.250.0-24`;
    try {
      // Both nodes' certificates are revoked; only node 1's files are replaced (as cert-manager
      // or a renewal timer does: new files written over the old paths).
      const fresh = await cl.issue('node1-rotated', { cn: 'node1' });
      await cl.revoke(files(1).cert);
      await cl.revoke(files(2).cert);
      await copyFile(fresh.cert, files(1).cert);
      await copyFile(fresh.key, files(1).key);
      await expect
        .poll(
          () => logged(n1, /^etcd TLS files changed: new etcd connections use the certificate CN=node1 /, 30),
          {
            timeout: 15_000,
          },
        )
        .toBe(true);
      // Every member restarts: every connection is new, and checked against the CRL.
      await cl.restartAll();
      await c
        .put(key)
        .value(`{"PublicIP":"198.18.${lab.octet}.77","PublicIPv6":null,"BackendType":"alloc"}`)
        .exec();
      // Node 1 is back on its new certificate: the watch delivers the new lease.
      await expect.poll(() => n1.metric('overlayd_peers'), { timeout: 30_000 }).toBe(2);
      expect(await n1.metric('overlayd_etcd_up')).toBe(1);
      // Node 2 still shows its revoked certificate: refused, and it says which file to look at.
      await expect.poll(() => n2.metric('overlayd_etcd_up'), { timeout: 30_000 }).toBe(0);
      expect(await n2.metric('overlayd_peers')).toBe(1);
      expect(n2.running).toBe(true);
      // Its files replaced too, it gets back in, still without a restart.
      const fresh2 = await cl.issue('node2-rotated', { cn: 'node2' });
      await copyFile(fresh2.cert, files(2).cert);
      await copyFile(fresh2.key, files(2).key);
      await expect.poll(() => n2.metric('overlayd_peers'), { timeout: 60_000 }).toBe(2);
      expect(await n2.metric('overlayd_etcd_up')).toBe(1);
    } finally {
      // In finally: a lease left behind would be a third peer in the auth tests below.
      await c.delete().key(key).exec();
      c.close();
      await n2.stopDaemon();
    }
  });

  describe('etcd auth', () => {
    beforeAll(async () => {
      const c = lab.client();
      try {
        await c.user('root').create(`root-${Date.now()}`);
        await c
          .role('root')
          .create()
          .catch(() => undefined); // etcd 3.4 has it built in
        await c.user('root').addRole('root');
        await c.role('flannel').create();
        await c
          .role('flannel')
          .grant({ permission: 'Readwrite', range: c.range({ prefix: `${lab.prefix}/` }) });
        await c.role('narrow').create();
        await c.role('narrow').grant({ permission: 'Read', range: c.range({ prefix: '/other/' }) });
        for (const [user, role] of [
          ['flannel', 'flannel'],
          ['narrow', 'narrow'],
          ['node1', 'flannel'], // client-cert auth: the CN is the user
        ] as const) {
          await c.user(user).create(`${user}-pw`);
          await c.user(user).addRole(role);
        }
        await c.auth.authEnable({});
      } finally {
        c.close();
      }
    });

    it('a wrong password names the user and the fix', async () => {
      await expectProblem(
        ['--etcd-username=flannel', '--etcd-password=not-the-password'],
        /^etcd get \S+ failed: etcd refused user "flannel": wrong password or no such user; fix --etcd-password/,
      );
    });

    it('a role without permission on the prefix names the refused key and the grant', async () => {
      await expectProblem(
        ['--etcd-username=narrow', '--etcd-password=narrow-pw'],
        new RegExp(
          `^etcd get ${lab.prefix}/config failed: etcd refused user "narrow" on this key: its roles lack permission; grant them the prefix: etcdctl role grant-permission <role> --prefix=true readwrite ${lab.prefix}/`,
        ),
      );
    });

    it('a user whose role covers only the prefix leases, and keeps its subnet across a restart', async () => {
      await n2.startDaemon({ flags: ['--etcd-username=flannel', '--etcd-password=flannel-pw'] });
      const before = (await n2.subnetEnv())['FLANNEL_SUBNET'];
      await n2.stopDaemon();
      await n2.startDaemon({ flags: ['--etcd-username=flannel', '--etcd-password=flannel-pw'] });
      expect((await n2.subnetEnv())['FLANNEL_SUBNET']).toBe(before);
      // Node 1 (client-cert auth, CN=node1) kept working through auth being enabled.
      const c = lab.client();
      try {
        await c
          .put(`${lab.prefix}/subnets/10.244.251.0-24`)
          .value(`{"PublicIP":"198.18.${lab.octet}.78","PublicIPv6":null,"BackendType":"alloc"}`)
          .exec();
        await expect.poll(() => n1.metric('overlayd_peers'), { timeout: 30_000 }).toBe(2);
      } finally {
        await c.delete().key(`${lab.prefix}/subnets/10.244.251.0-24`).exec();
        c.close();
        await n2.stopDaemon();
      }
    });
  });
});
