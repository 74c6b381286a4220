/**
 * kill -9 of a dual-stack node, for the v6 kernel state (#16): three dual-stack nodes on a real
 * etcd with pods of both families; one daemon is killed with SIGKILL (no shutdown code runs), its
 * v6 state is damaged while it is down (an entry deleted, a stale one added, as a crash half-way
 * through programming or an operator would leave it), and it is started again. The v6 device
 * must be the same device with the same MAC, every v6 route, neighbour and FDB entry what
 * flanneld programs for the leases, each exactly once, and the pods must reach each other over
 * IPv6 again. The same for host-gw's v6 routes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from './lab/lab.js';
import {
  VXLAN6_DEVICE,
  expectedHostGw6,
  expectedVxlan6,
  globalAddrs6,
  ipJson,
  kernelRoutes6,
  kernelVxlan6,
} from './lab/kernel-state6.js';
import { addPod, ping, reachable, type Pod } from './lab/pods.js';

const IPV6_NETWORK = 'fd00:10:244::/56';
/** A v6 subnet no lease holds (inside IPv6Network, which allocation never reaches in a 3-node lab). */
const STALE_V6_NET = 'fd00:10:244:ff::';
const STALE_MAC = '02:de:ad:00:00:ff';

async function labFor(type: 'vxlan' | 'host-gw'): Promise<{ lab: Lab; pods: Pod[] }> {
  const lab = await Lab.create({
    nodes: 3,
    networkConfig: {
      Network: '10.244.0.0/16',
      EnableIPv6: true,
      IPv6Network: IPV6_NETWORK,
      Backend: { Type: type },
    },
  });
  const flags = type === 'vxlan' ? ['--vxlan-datapath=kernel'] : [];
  await Promise.all(lab.nodes.map((n) => n.startDaemon({ flags })));
  const pods = await Promise.all(lab.nodes.map((n) => addPod(n, 'p1')));
  return { lab, pods };
}

/**
 * Every pod reaches every other over IPv6, then pings it with no loss; returns the pairs that
 * failed (none is the pass). The claim is reachability, so a first probe lost while the kernel
 * resolves the neighbour (the first pings of the file go out right after a kill -9) is waited out.
 */
async function v6Failures(pods: Pod[]): Promise<string[]> {
  const failed: string[] = [];
  for (const a of pods)
    for (const b of pods) {
      if (a === b) continue;
      const to = { ip: b.ip6! };
      const ok = await reachable(a, to, 10_000).then(
        async () => (await ping(a, to, 2)).loss === 0,
        () => false,
      );
      if (!ok) failed.push(`${a.ns} -> ${b.ip6}`);
    }
  return failed;
}

const sorted = <T>(xs: readonly T[]): T[] => [...xs].sort();
const duplicates = (keys: readonly string[]): string[] => keys.filter((k, i) => keys.indexOf(k) !== i);

describe('dual-stack vxlan: kill -9 and restart keeps the v6 kernel state right', () => {
  let lab: Lab;
  let pods: Pod[] = [];
  const flags = ['--vxlan-datapath=kernel'];

  beforeAll(async () => {
    ({ lab, pods } = await labFor('vxlan'));
  });
  afterAll(async () => {
    await lab?.destroy();
  });

  it('leaves the v6 datapath up while the daemon is dead, and re-programs it on restart', async () => {
    const n = lab.nodes[0]!;
    const want = await expectedVxlan6(lab, n);
    expect(want.routes).toHaveLength(2);
    await expect.poll(() => kernelVxlan6(n), { timeout: 10_000 }).toEqual(want);
    const [dev] = await ipJson(n, ['link', 'show', VXLAN6_DEVICE]);
    const addrs = await globalAddrs6(n, VXLAN6_DEVICE);
    const env = await n.subnetEnv();

    expect(await n.stopDaemon('SIGKILL')).toBeNull(); // killed by a signal: no exit code
    // The kernel keeps what flanneld programmed: pods still reach each other over IPv6.
    expect(await kernelVxlan6(n)).toEqual(want);
    expect(await v6Failures(pods)).toEqual([]);

    // Damage while down: one peer's route, neighbour and FDB entry gone; a stale neighbour,
    // FDB entry and route for a subnet no lease holds.
    const gone = want.routes[0]!;
    const goneMac = want.neighs.find((x) => x.dst === gone.gateway)!.lladdr as string;
    await n.mustExec('ip', ['-6', 'route', 'del', gone.dst, 'dev', VXLAN6_DEVICE]);
    await n.mustExec('ip', ['-6', 'neigh', 'del', String(gone.gateway), 'dev', VXLAN6_DEVICE]);
    await n.mustExec('bridge', ['fdb', 'del', goneMac, 'dev', VXLAN6_DEVICE, 'self']);
    await n.mustExec(
      'ip',
      ['-6', 'neigh', 'replace', STALE_V6_NET, 'lladdr', STALE_MAC].concat([
        'dev',
        VXLAN6_DEVICE,
        'nud',
        'permanent',
      ]),
    );
    await n.mustExec(
      'bridge',
      ['fdb', 'append', STALE_MAC, 'dev', VXLAN6_DEVICE].concat([
        'dst',
        lab.underlayIpv6(9),
        'self',
        'permanent',
      ]),
    );
    await n.mustExec(
      'ip',
      ['-6', 'route', 'replace', `${STALE_V6_NET}/64`, 'via', STALE_V6_NET].concat([
        'dev',
        VXLAN6_DEVICE,
        'onlink',
        'proto',
        '77',
      ]),
    );
    expect(await kernelVxlan6(n)).not.toEqual(want);

    await n.startDaemon({ flags });
    expect(await n.subnetEnv()).toEqual(env);
    await expect.poll(() => kernelVxlan6(n), { timeout: 15_000 }).toEqual(want);
    // The same device (not re-created), its MAC (still the one in our lease), one /128 address.
    const [devAfter] = await ipJson(n, ['link', 'show', VXLAN6_DEVICE]);
    expect([devAfter!['ifindex'], devAfter!['address']]).toEqual([dev!['ifindex'], dev!['address']]);
    expect(await globalAddrs6(n, VXLAN6_DEVICE)).toEqual(addrs);
    expect(await v6Failures(pods)).toEqual([]);
  });

  it('holds every v6 entry exactly once after a second kill -9 and restart', async () => {
    const n = lab.nodes[0]!;
    await n.stopDaemon('SIGKILL');
    await n.startDaemon({ flags });
    const want = await expectedVxlan6(lab, n);
    await expect.poll(() => kernelVxlan6(n), { timeout: 15_000 }).toEqual(want);
    // Dumps of everything on the device, not only what the comparison above picks out.
    const routes = (await ipJson(n, ['-6', 'route', 'show', 'dev', VXLAN6_DEVICE])).map((r) =>
      String(r['dst']),
    );
    const neighs = (await ipJson(n, ['-6', 'neigh', 'show', 'dev', VXLAN6_DEVICE])).map((x) =>
      String(x['dst']),
    );
    const fdb = (
      JSON.parse((await n.mustExec('bridge', ['-j', 'fdb', 'show', 'dev', VXLAN6_DEVICE])) || '[]') as Array<
        Record<string, unknown>
      >
    ).map((f) => `${f['mac']} ${f['dst'] ?? ''}`);
    expect([duplicates(routes), duplicates(neighs), duplicates(fdb)]).toEqual([[], [], []]);
    expect(sorted(routes.filter((r) => r.startsWith('fd00:') && r.endsWith('/64')))).toEqual(
      sorted(want.routes.map((r) => r.dst)),
    );
    expect(await globalAddrs6(n, VXLAN6_DEVICE)).toHaveLength(1);
    // The other nodes still hold exactly one entry set for the restarted node.
    for (const peer of lab.nodes.slice(1))
      expect(await kernelVxlan6(peer)).toEqual(await expectedVxlan6(lab, peer));
    expect(await v6Failures(pods)).toEqual([]);
  });
});

describe('dual-stack host-gw: kill -9 and restart keeps the v6 routes right', () => {
  let lab: Lab;
  let pods: Pod[] = [];

  beforeAll(async () => {
    ({ lab, pods } = await labFor('host-gw'));
  });
  afterAll(async () => {
    await lab?.destroy();
  });

  it('keeps v6 routes through the crash, repairs a deleted one, drops a stale one, duplicates none', async () => {
    const n = lab.nodes[0]!;
    const want = await expectedHostGw6(lab, n);
    expect(want).toHaveLength(2);
    await expect.poll(() => kernelRoutes6(n), { timeout: 10_000 }).toEqual(want);

    await n.stopDaemon('SIGKILL');
    expect(await kernelRoutes6(n)).toEqual(want);
    expect(await v6Failures(pods)).toEqual([]);
    await n.mustExec('ip', ['-6', 'route', 'del', want[0]!.dst]);
    await n.mustExec(
      'ip',
      ['-6', 'route', 'replace', `${STALE_V6_NET}/64`, 'via', lab.underlayIpv6(9)].concat([
        'dev',
        'eth0',
        'proto',
        '77',
      ]),
    );

    await n.startDaemon();
    await expect.poll(() => kernelRoutes6(n), { timeout: 15_000 }).toEqual(want);
    // Every device has its own fe80::/64: a route is the same route only on the same device.
    const all = (await ipJson(n, ['-6', 'route', 'show'])).map(
      (r) => `${r['dst']} dev ${r['dev']} metric ${r['metric'] ?? ''}`,
    );
    expect(duplicates(all)).toEqual([]);
    expect(all.filter((r) => r.startsWith(`${STALE_V6_NET}/64`))).toEqual([]);
    expect(await v6Failures(pods)).toEqual([]);
  });
});
