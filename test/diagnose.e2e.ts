/**
 * `overlayd status` and `overlayd diagnose` on a real vxlan lab (3 nodes, real etcd, pods): status
 * matches etcd and the kernel; then one thing at a time is broken on one node, diagnose must name
 * it with its fix (exit 1 for failures), and it is repaired — where the fix is a command, by
 * running that very command. The next test's run (the tests run in order on one lab) shows the
 * repaired check ok again while exactly one other thing is broken, which keeps the number of
 * diagnose runs (each ~2 s, mostly loading the etcd client) low. n1's daemon is stopped for the
 * breaks it would repair by itself (kernel entries, iptables); diagnose works without it, and the
 * last fix (start overlayd) brings it back.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from './lab/lab.js';
import type { LabNode } from './lab/lab-node.js';
import { addPod } from './lab/pods.js';

interface Check {
  id: string;
  verdict: 'ok' | 'warn' | 'fail';
  title: string;
  evidence: string;
  fix: string;
}
interface Report {
  code: number;
  checks: Check[];
  text: string;
}

async function diagnose(node: LabNode, ...args: string[]): Promise<Report> {
  const r = await node.tool('diagnose', ['--json', ...args]);
  let parsed: { checks: Check[]; exitCode: number };
  try {
    parsed = JSON.parse(r.stdout);
  } catch {
    throw new Error(`diagnose on n${node.index} printed no JSON (exit ${r.code}): ${r.stdout}${r.stderr}`);
  }
  expect(parsed.exitCode).toBe(r.code);
  return { code: r.code, checks: parsed.checks, text: r.stdout };
}

const check = (rep: Report, id: string): Check => {
  const c = rep.checks.find((x) => x.id === id);
  if (!c) throw new Error(`no check ${id} in:\n${rep.checks.map((x) => `${x.verdict} ${x.id}`).join('\n')}`);
  return c;
};
const notOk = (rep: Report): string[] =>
  rep.checks.filter((c) => c.verdict !== 'ok').map((c) => `${c.verdict} ${c.id}: ${c.evidence}`);

/** Runs a check's fix as the operator would paste it (commands joined by "; "). */
const runFix = (node: LabNode, fix: string): Promise<string> => node.mustExec('sh', ['-c', fix]);

describe('overlayd status and diagnose', () => {
  let lab: Lab;
  let n1: LabNode;
  let n2: LabNode;
  let n3: LabNode;
  const subnetOf = async (n: LabNode): Promise<string> =>
    (await n.subnetEnv())['FLANNEL_SUBNET']!.replace(/\.1\//, '.0/');

  beforeAll(async () => {
    lab = await Lab.create({
      nodes: 3,
      networkConfig: { Network: '10.244.0.0/16', Backend: { Type: 'vxlan' } },
    });
    [n1, n2, n3] = lab.nodes as [LabNode, LabNode, LabNode];
    await Promise.all(lab.nodes.map((n) => n.startDaemon()));
    // A pod per node: cni0 and a veth at FLANNEL_MTU, and ip_forward on, as on a real node.
    await Promise.all(lab.nodes.map((n) => addPod(n, 'p1')));
  });
  afterAll(async () => {
    await lab?.destroy();
  });

  it('status --json shows the lease set in etcd and the kernel state', async () => {
    const r = await n1.tool('status', ['--json']);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout);
    const c = lab.client();
    const kvs = await c.getAll().prefix(`${lab.prefix}/subnets/`).strings();
    c.close();
    const leases = Object.entries(kvs).map(([k, v]) => ({
      subnet: k.split('/').pop()!.replace('-', '/'),
      ...(JSON.parse(v) as { PublicIP: string; BackendType: string; BackendData: { VtepMAC: string } }),
    }));
    expect(leases).toHaveLength(3);
    const own = leases.find((l) => l.PublicIP === n1.ip)!;
    expect(s.ready).toBe(true);
    expect(s.etcdUp).toBe(true);
    expect(s.backend).toEqual({
      type: 'vxlan',
      mode: { device: 'flannel.1', port: 8472, directRouting: false },
    });
    expect(s.lease.subnet).toBe(own.subnet);
    expect(s.lease.publicIp).toBe(n1.ip);
    expect(s.lease.backendData.VtepMAC).toBe(own.BackendData.VtepMAC);
    expect(Date.parse(s.lease.expiration)).toBeGreaterThan(Date.now());
    const peers = (s.peers as Array<{ subnet: string; publicIp: string; backendData: { VtepMAC: string } }>)
      .map((p) => ({ subnet: p.subnet, publicIp: p.publicIp, mac: p.backendData.VtepMAC }))
      .sort((a, b) => a.subnet.localeCompare(b.subnet));
    const want = leases
      .filter((l) => l !== own)
      .map((l) => ({ subnet: l.subnet, publicIp: l.PublicIP, mac: l.BackendData.VtepMAC }))
      .sort((a, b) => a.subnet.localeCompare(b.subnet));
    expect(peers).toEqual(want);
    for (const p of s.peers) expect(Date.parse(p.lastChange)).toBeLessThanOrEqual(Date.now());
    // The kernel: our device's MAC is the published VtepMAC, every peer has its FDB entry.
    const link = JSON.parse(await n1.mustExec('ip', ['-j', 'link', 'show', 'flannel.1']))[0];
    expect(link.address).toBe(s.lease.backendData.VtepMAC);
    const fdb = JSON.parse(await n1.mustExec('bridge', ['-j', 'fdb', 'show', 'dev', 'flannel.1'])) as Array<{
      mac: string;
      dst?: string;
    }>;
    for (const p of want)
      expect(fdb).toContainEqual(expect.objectContaining({ mac: p.mac, dst: p.publicIp }));
    expect(s.counters['overlayd_peers'][0].value).toBe(2);
    // The socket is root-only.
    expect((await n1.mustExec('stat', ['-c', '%a', n1.statusSocket])).trim()).toBe('600');
    // The human form names the same things.
    const h = await n1.tool('status');
    expect(h.stdout).toContain(`lease: ${own.subnet}  PublicIP ${n1.ip}`);
    for (const p of want)
      expect(h.stdout).toMatch(new RegExp(`${p.subnet}\\s+${p.publicIp}\\s+vxlan\\s+${p.mac}`));
  });

  it('a healthy node: every check ok, every peer answers through flannel.1 at full MTU, exit 0', async () => {
    const rep = await diagnose(n1);
    expect(notOk(rep)).toEqual([]);
    expect(rep.code).toBe(0);
    for (const peer of [n2, n3]) {
      const c = check(rep, `peer.${await subnetOf(peer)}`);
      expect(c.evidence).toMatch(
        /echo reply from 10\.244\.\d+\.0 in [\d.]+ ms, DF packets up to 1450 B pass/,
      );
    }
    expect(check(rep, 'host.checksum_offload').evidence).toMatch(
      /^tx-checksum-ip-generic on, 0 UDP checksum error/,
    );
  });

  it("names a lowered underlay MTU on the node and in its peers' probes", async () => {
    await n2.mustExec('ip', ['link', 'set', 'eth0', 'mtu', '1400']);
    try {
      const [local, remote] = await Promise.all([diagnose(n2, '--no-probes'), diagnose(n1)]);
      const m = check(local, 'mtu.consistent');
      expect(m.verdict).toBe('fail');
      expect(m.evidence).toContain('flannel.1 MTU 1450 > 1350 that eth0 (1400) carries');
      expect(m.fix).toContain('ip link set eth0 mtu 1500');
      const p = check(remote, `peer.${await subnetOf(n2)}`);
      expect(p.verdict).toBe('fail');
      const size = Number(/largest packet that passes with DF is (\d+) B/.exec(p.evidence)?.[1]);
      expect(size).toBeLessThan(1450);
      expect(size).toBeGreaterThan(1300);
      expect(p.evidence).toContain('FLANNEL_MTU 1450');
      expect(notOk(remote)).toEqual([`fail peer.${await subnetOf(n2)}: ${p.evidence}`]);
      expect(remote.code).toBe(1);
    } finally {
      await n2.mustExec('ip', ['link', 'set', 'eth0', 'mtu', '1500']);
      // Path MTUs the kernels learned meanwhile (ICMP "fragmentation needed") last 10 minutes;
      // diagnose names such a cached value with this fix (ops/checks-peers.test.ts).
      await Promise.all([n1, n2].map((n) => n.mustExec('ip', ['route', 'flush', 'cache'])));
    }
  });

  it('names UDP 8472 dropped between two nodes while the peer answers plain ping', async () => {
    const rule = ['INPUT', '-p', 'udp', '--dport', '8472', '-s', n1.ip, '-j', 'DROP'];
    await n2.mustExec('iptables', ['-I', ...rule]);
    try {
      const rep = await diagnose(n1);
      const p = check(rep, `peer.${await subnetOf(n2)}`);
      expect(p.verdict).toBe('fail');
      expect(p.evidence).toContain(`but ${n2.ip} answers ping`);
      expect(p.evidence).toContain(`UDP 8472 to ${n2.ip} blocked?`);
      expect(p.fix).toContain('allow UDP 8472 between the nodes');
      expect(notOk(rep)).toEqual([`fail peer.${await subnetOf(n2)}: ${p.evidence}`]);
      expect(rep.code).toBe(1);
    } finally {
      await n2.mustExec('iptables', ['-D', ...rule]);
    }
  });

  it('applies the VXLAN checksum-offload workaround on request', async () => {
    const state = async (): Promise<string> =>
      /tx-checksum-ip-generic: (\w+)/.exec(await n1.mustExec('ethtool', ['-k', 'flannel.1']))![1]!;
    expect(await state()).toBe('on');
    const r = await n1.tool('diagnose', ['--fix-checksum-offload']);
    expect(r.stdout).toContain('applied: ethtool -K flannel.1 tx-checksum-ip-generic off');
    expect(await state()).toBe('off');
    expect(r.stdout).toMatch(
      /ok +VXLAN checksum offload on flannel\.1 +tx-checksum-ip-generic off \(workaround applied\)/,
    );
    // The previous break is repaired, and traffic flows with software checksums: nothing fails.
    expect(r.stdout).toMatch(/0 failed, 0 warning\(s\), \d+ ok → exit 0\n$/);
    expect(r.code).toBe(0);
    await n1.mustExec('ethtool', ['-K', 'flannel.1', 'tx-checksum-ip-generic', 'on']);
  });

  describe("with n1's daemon stopped (it would repair these itself)", () => {
    beforeAll(async () => {
      expect(await n1.stopDaemon('SIGTERM')).toBe(0);
    });

    it('still diagnoses, and says the daemon is not running (a warning, not a failure)', async () => {
      const rep = await diagnose(n1);
      const d = check(rep, 'daemon.running');
      expect(d.verdict).toBe('warn');
      expect(d.evidence).toContain(n1.statusSocket);
      expect(notOk(rep)).toEqual([`warn daemon.running: ${d.evidence}`]);
      expect(check(rep, 'host.checksum_offload').evidence).toMatch(/^tx-checksum-ip-generic on/);
      expect(rep.code).toBe(0);
    });

    it("names a peer's deleted FDB entry", async () => {
      const s2 = await subnetOf(n2);
      const mac = JSON.parse(await n2.mustExec('ip', ['-j', 'link', 'show', 'flannel.1']))[0]
        .address as string;
      await n1.mustExec('bridge', ['fdb', 'del', mac, 'dev', 'flannel.1', 'dst', n2.ip, 'self']);
      const rep = await diagnose(n1);
      const k = check(rep, `kernel.peer.${s2}`);
      expect(k.verdict).toBe('fail');
      expect(k.evidence).toContain(`FDB ${mac} dst ${n2.ip}`);
      expect(k.fix).toBe(`bridge fdb append ${mac} dev flannel.1 dst ${n2.ip} self permanent`);
      // The probe fails too, and points at the kernel entries rather than the network.
      const p = check(rep, `peer.${s2}`);
      expect(p.verdict).toBe('fail');
      expect(p.evidence).toContain("this node's kernel entries for the peer are wrong");
      expect(rep.code).toBe(1);
      await runFix(n1, k.fix);
    });

    it('names a stale route left behind, failures first in the table', async () => {
      await n1.mustExec('ip', [
        'route',
        'add',
        '10.244.250.0/24',
        'via',
        '10.244.250.0',
        'dev',
        'flannel.1',
        'onlink',
        'proto',
        '77',
      ]);
      const r = await n1.tool('diagnose');
      expect(r.code).toBe(1);
      const rows = r.stdout.split('\n').filter((l) => /^(FAIL|WARN|ok) /.test(l));
      expect(rows[0]).toMatch(
        /^FAIL +no stale overlay entries +1 entry for subnets no lease holds: route 10\.244\.250\.0\/24/,
      );
      expect(rows[1]).toMatch(/^WARN +overlayd answers on its status socket/);
      expect(rows.slice(2).every((l) => l.startsWith('ok '))).toBe(true);
      const fix = /^ +fix: (.*)$/m.exec(r.stdout)![1]!;
      expect(fix).toBe('ip route del 10.244.250.0/24 via 10.244.250.0');
      // The FDB repair of the previous test holds: entries and the probe through them.
      expect(r.stdout).toMatch(/ok +kernel entries for every peer/);
      expect(r.stdout).toMatch(new RegExp(`ok +peer ${(await subnetOf(n2)).replace(/\./g, '\\.')}`));
      await runFix(n1, fix);
    });

    it('names strict rp_filter on flannel.1', async () => {
      await n1.mustExec('sysctl', ['-w', 'net.ipv4.conf.flannel/1.rp_filter=1']);
      const rep = await diagnose(n1, '--no-probes');
      expect(check(rep, 'kernel.stale').verdict).toBe('ok');
      const rp = check(rep, 'host.rp_filter');
      expect(rp.verdict).toBe('warn');
      expect(rp.evidence).toContain('rp_filter is strict (1) on flannel.1');
      expect(rp.fix).toBe('sysctl -w net.ipv4.conf.flannel/1.rp_filter=2');
      await runFix(n1, rp.fix);
    });

    it('names FORWARD policy DROP with our accept rules removed', async () => {
      await n1.mustExec('iptables', ['-P', 'FORWARD', 'DROP']);
      await n1.mustExec('iptables', [
        '-D',
        'FORWARD',
        '-m',
        'comment',
        '--comment',
        'flanneld forward',
        '-j',
        'FLANNEL-FWD',
      ]);
      await n1.mustExec('iptables', ['-F', 'FLANNEL-FWD']);
      const rep = await diagnose(n1, '--no-probes');
      expect(check(rep, 'host.rp_filter').verdict).toBe('ok');
      const f = check(rep, 'host.forward');
      expect(f.verdict).toBe('fail');
      expect(f.evidence).toContain('FORWARD policy DROP and no accept rules for 10.244.0.0/16');
      expect(f.fix).toMatch(
        /^iptables -A FORWARD -s 10\.244\.0\.0\/16 -j ACCEPT; iptables -A FORWARD -d 10\.244\.0\.0\/16 -j ACCEPT \(/,
      );
      expect(rep.code).toBe(1);
      // The commands alone repair it; the policy stays DROP (checked by the next run).
      await runFix(n1, f.fix.split(' (')[0]!);
    });

    it('names bridge-nf-call-iptables off', async () => {
      await n1.mustExec('sysctl', ['-w', 'net.bridge.bridge-nf-call-iptables=0']);
      const rep = await diagnose(n1, '--no-probes');
      const f = check(rep, 'host.forward');
      expect(f.verdict).toBe('ok');
      expect(f.evidence).toBe('FORWARD policy DROP, accept rules for 10.244.0.0/16');
      const b = check(rep, 'host.br_netfilter');
      expect(b.verdict).toBe('warn');
      expect(b.evidence).toContain('net.bridge.bridge-nf-call-iptables = 0');
      await runFix(n1, b.fix.split(' (')[0]!);
      await n1.mustExec('iptables', ['-P', 'FORWARD', 'ACCEPT']);
      await n1.mustExec('iptables', ['-D', 'FORWARD', '-s', '10.244.0.0/16', '-j', 'ACCEPT']);
      await n1.mustExec('iptables', ['-D', 'FORWARD', '-d', '10.244.0.0/16', '-j', 'ACCEPT']);
    });

    it('names a duplicate PublicIP lease written by hand', async () => {
      const key = `${lab.prefix}/subnets/10.244.251.0-24`;
      const c = lab.client();
      try {
        const value = {
          PublicIP: n2.ip,
          PublicIPv6: null,
          BackendType: 'vxlan',
          BackendData: { VNI: 1, VtepMAC: '0e:00:00:00:00:01' },
        };
        await c.put(key).value(JSON.stringify(value)).exec();
        const rep = await diagnose(n1, '--no-probes');
        expect(check(rep, 'host.br_netfilter').verdict).toBe('ok');
        const d = check(rep, `lease.duplicate_public_ip.${n2.ip}`);
        expect(d.verdict).toBe('fail');
        expect(d.evidence).toContain(`2 leases claim PublicIP ${n2.ip}`);
        expect(d.evidence).toContain('10.244.251.0/24');
        expect(d.fix).toContain(key);
        expect(rep.code).toBe(1);
      } finally {
        await c.delete().key(key).exec();
        c.close();
      }
    });

    it('names a subnet.env that disagrees with the lease; starting overlayd (the fix) rewrites it', async () => {
      const original = await n1.subnetEnv();
      await n1.writeSubnetEnv('10.244.252.1/24', Number(original['FLANNEL_MTU']));
      const rep = await diagnose(n1, '--no-probes');
      expect(check(rep, 'lease.duplicate_public_ip').verdict).toBe('ok');
      const e = check(rep, 'lease.subnet_env');
      expect(e.verdict).toBe('fail');
      expect(e.evidence).toContain(
        `FLANNEL_SUBNET=10.244.252.1/24 but our lease is ${original['FLANNEL_SUBNET']!.replace('.1/', '.0/')}`,
      );
      expect(e.fix).toMatch(/^restart overlayd/);
      await n1.startDaemon();
    });
  });

  it('every node is healthy again: all checks ok, exit 0', async () => {
    const reps = await Promise.all(lab.nodes.map((n) => diagnose(n)));
    for (const rep of reps) {
      expect(notOk(rep)).toEqual([]);
      expect(rep.code).toBe(0);
    }
    expect(check(reps[0]!, 'lease.subnet_env').verdict).toBe('ok');
    expect(check(reps[1]!, 'mtu.consistent').verdict).toBe('ok');
  });
});
