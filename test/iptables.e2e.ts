/** --ip-masq and the forward rules in node namespaces: flannel's exact chains, kept in place. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Lab } from './lab/lab.js';
import { addPod, inPod, ping, reachable } from './lab/pods.js';

let lab: Lab;

beforeAll(async () => {
  lab = await Lab.create({
    nodes: 2,
    networkConfig: { Network: '10.244.0.0/16', Backend: { Type: 'vxlan' } },
  });
  await Promise.all(lab.nodes.map((n) => n.startDaemon({ flags: ['--ip-masq', '--iptables-resync=1'] })));
});
afterAll(async () => {
  await lab?.destroy();
});

describe('iptables rules', () => {
  it("installs flannel's FLANNEL-POSTRTG and FLANNEL-FWD chains, and subnet.env says IPMASQ=true", async () => {
    const n = lab.nodes[0]!;
    const env = await n.subnetEnv();
    expect(env['FLANNEL_IPMASQ']).toBe('true');
    const pod = env['FLANNEL_SUBNET']!.replace('.1/24', '.0/24');
    const nat = (await n.mustExec('iptables-save', ['-t', 'nat'])).split('\n');
    expect(nat.filter((l) => l.includes('FLANNEL-POSTRTG') && l.startsWith('-A'))).toEqual([
      '-A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG',
      '-A FLANNEL-POSTRTG -m mark --mark 0x4000/0x4000 -m comment --comment "flanneld masq" -j RETURN',
      `-A FLANNEL-POSTRTG -s ${pod} -d 10.244.0.0/16 -m comment --comment "flanneld masq" -j RETURN`,
      `-A FLANNEL-POSTRTG -s 10.244.0.0/16 -d ${pod} -m comment --comment "flanneld masq" -j RETURN`,
      `-A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d ${pod} -m comment --comment "flanneld masq" -j RETURN`,
      '-A FLANNEL-POSTRTG -s 10.244.0.0/16 ! -d 224.0.0.0/4 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully',
      '-A FLANNEL-POSTRTG ! -s 10.244.0.0/16 -d 10.244.0.0/16 -m comment --comment "flanneld masq" -j MASQUERADE --random-fully',
    ]);
    const filter = (await n.mustExec('iptables-save', ['-t', 'filter'])).split('\n');
    expect(filter.filter((l) => l.includes('FLANNEL-FWD') && l.startsWith('-A'))).toEqual([
      '-A FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD',
      '-A FLANNEL-FWD -s 10.244.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT',
      '-A FLANNEL-FWD -d 10.244.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT',
    ]);
  });

  it('masquerades pod traffic leaving the overlay but not pod-to-pod traffic', async () => {
    const pods = await Promise.all(lab.nodes.map((n) => addPod(n, 'p1')));
    // Fresh pods: the first probe may wait out ARP; pod-to-pod traffic is what the RETURN rule counts.
    await reachable(pods[0]!, pods[1]!);
    expect((await ping(pods[0]!, pods[1]!, 2)).loss).toBe(0);
    // Pod → etcd's underlay address (outside the overlay) leaves with the node's address.
    const n1 = lab.nodes[0]!;
    const nat = async () =>
      (await n1.mustExec('iptables', ['-t', 'nat', '-L', 'FLANNEL-POSTRTG', '-v', '-x', '-n'])).split('\n');
    const masqCount = async () =>
      (await nat())
        .filter((l) => l.includes('MASQUERADE'))
        .reduce((s, l) => s + Number(l.trim().split(/\s+/)[0]), 0);
    const before = await masqCount();
    await inPod(pods[0]!, 'ping', ['-c', '1', '-W', '1', lab.etcdIp]);
    expect(await masqCount()).toBeGreaterThan(before);
    const podToPod = (await nat()).find(
      (l) => l.includes('RETURN') && l.includes('10.244.0.0/16') && !l.includes('!'),
    )!;
    expect(Number(podToPod.trim().split(/\s+/)[0])).toBeGreaterThan(0);
  });

  it('puts back a rule someone deleted within the resync period', async () => {
    const n = lab.nodes[1]!;
    await n.mustExec('iptables', [
      '-t',
      'filter',
      '-D',
      'FLANNEL-FWD',
      '-d',
      '10.244.0.0/16',
      '-m',
      'comment',
      '--comment',
      'flanneld forward',
      '-j',
      'ACCEPT',
    ]);
    await n.mustExec('iptables', [
      '-t',
      'nat',
      '-D',
      'POSTROUTING',
      '-m',
      'comment',
      '--comment',
      'flanneld masq',
      '-j',
      'FLANNEL-POSTRTG',
    ]);
    await expect
      .poll(
        async () =>
          (await n.mustExec('iptables-save', []))
            .split('\n')
            .filter((l) => /^-A (FLANNEL-FWD|POSTROUTING -m comment --comment "flanneld masq")/.test(l))
            .length,
        { timeout: 20_000 },
      )
      .toBe(3);
    const metrics = (await n.health('/metrics')).body;
    expect(metrics).toMatch(/overlayd_iptables_resyncs_total [1-9]/);
  });
});
