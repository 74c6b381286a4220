import { describe, expect, it } from 'vitest';
import { VXLAN_OVERHEAD } from '../encap/vxlan/vxlan-backend.js';
import { UDP_OVERHEAD } from '../encap/udp/udp-backend.js';
import type { Check } from './check.js';
import { UDP_ENCAP_OVERHEAD, VXLAN_ENCAP_OVERHEAD } from './context.js';
import { evaluate } from './evaluate.js';
import type { Facts } from './facts.js';
import { healthyFacts, ip, MACS, net, vxlanLease } from './test-facts.js';

const by = (checks: Check[], id: string): Check => {
  const c = checks.find((x) => x.id === id);
  if (!c) throw new Error(`no ${id}: ${checks.map((x) => x.id).join(', ')}`);
  return c;
};
const notOk = (checks: Check[]) => checks.filter((c) => c.verdict !== 'ok').map((c) => c.id);
type Mutable<T> =
  T extends ReadonlyArray<infer U>
    ? Mutable<U>[]
    : T extends Date
      ? T
      : T extends object
        ? { -readonly [K in keyof T]: Mutable<T[K]> }
        : T;
const broken = (edit: (f: Mutable<Facts>) => void): Check[] => {
  const f = structuredClone(healthyFacts()) as Mutable<Facts>;
  edit(f);
  return evaluate(f as Facts);
};

describe('diagnose evaluation', () => {
  it('finds nothing wrong on a healthy node', () => {
    const checks = evaluate(healthyFacts());
    expect(notOk(checks)).toEqual([]);
    expect(by(checks, 'peer.10.244.2.0/24').evidence).toBe(
      'echo reply from 10.244.2.0 in 0.200 ms, DF packets up to 1450 B pass',
    );
  });

  it("uses the backends' own encapsulation overheads", () => {
    expect(VXLAN_ENCAP_OVERHEAD).toBe(VXLAN_OVERHEAD);
    expect(UDP_ENCAP_OVERHEAD).toBe(UDP_OVERHEAD);
  });

  it('names a deleted FDB entry with the bridge command that restores it', () => {
    const checks = broken((f) => {
      f.kernel.fdbs = f.kernel.fdbs.filter((e) => e.mac !== MACS.p2);
    });
    const c = by(checks, 'kernel.peer.10.244.2.0/24');
    expect(c.verdict).toBe('fail');
    expect(c.evidence).toBe('missing or wrong for 198.18.0.2: FDB 0e:00:00:00:00:02 dst 198.18.0.2');
    expect(c.fix).toBe(
      'bridge fdb append 0e:00:00:00:00:02 dev flannel.1 dst 198.18.0.2 self permanent (or systemctl restart overlayd (it reconciles every entry))',
    );
  });

  it("names a neighbour whose MAC is not the lease's VtepMAC (a VtepMAC that changed)", () => {
    const checks = broken((f) => {
      f.kernel.neighs[0]!.mac = '0e:ff:ff:ff:ff:ff';
      f.daemon.running = false;
    });
    const c = by(checks, 'kernel.peer.10.244.2.0/24');
    expect(c.evidence).toContain(
      'neighbour 10.244.2.0 has MAC 0e:ff:ff:ff:ff:ff, lease says 0e:00:00:00:00:02',
    );
    expect(c.fix).toBe('ip neigh replace 10.244.2.0 lladdr 0e:00:00:00:00:02 dev flannel.1 nud permanent');
  });

  it('names stale routes, neighbours and FDB entries of a node that left', () => {
    const checks = broken((f) => {
      f.cluster.leases = f.cluster.leases.filter((l) => l.attrs.publicIp !== ip('198.18.0.3'));
      f.probes = f.probes!.slice(0, 1);
    });
    const c = by(checks, 'kernel.stale');
    expect(c.verdict).toBe('fail');
    expect(c.evidence).toBe(
      '3 entries for subnets no lease holds: route 10.244.3.0/24, neighbour 10.244.3.0, FDB 0e:00:00:00:00:03 dst 198.18.0.3',
    );
    expect(c.fix).toBe(
      'ip route del 10.244.3.0/24 via 10.244.3.0; ip neigh del 10.244.3.0 dev flannel.1; bridge fdb del 0e:00:00:00:00:03 dev flannel.1 dst 198.18.0.3 self',
    );
  });

  it('names a vxlan device whose MAC differs from the published VtepMAC', () => {
    const checks = broken((f) => {
      f.kernel.links[1]!.mac = '0e:00:00:00:00:99';
    });
    expect(by(checks, 'kernel.device').evidence).toContain(
      'MAC 0e:00:00:00:00:99, our lease publishes VtepMAC 0e:00:00:00:00:01',
    );
  });

  it('names a lowered underlay MTU: device and FLANNEL_MTU too big', () => {
    const checks = broken((f) => {
      f.kernel.links[0]!.mtu = 1400;
    });
    const m = by(checks, 'mtu.consistent');
    expect(m.verdict).toBe('fail');
    expect(m.evidence).toBe(
      'flannel.1 MTU 1450 > 1350 that eth0 (1400) carries; FLANNEL_MTU 1450 > 1350; cni0 1450, veth1234 1450 > 1350 (eth0 1400, flannel.1 1450, FLANNEL_MTU 1450, cni0 1450, 1 pod veth(s) 1450)',
    );
    expect(m.fix).toMatch(/^restore eth0's MTU \(ip link set eth0 mtu 1500\)/);
    expect(by(checks, 'kernel.device').fix).toBe('ip link set flannel.1 mtu 1350');
  });

  it('names a pod veth above FLANNEL_MTU', () => {
    const checks = broken((f) => {
      f.kernel.links[3]!.mtu = 1500;
    });
    expect(by(checks, 'mtu.consistent').evidence).toMatch(/^veth1234 1500 > 1450/);
  });

  it('names a duplicate PublicIP and, for our own address, deletes the lease subnet.env does not name', () => {
    const checks = broken((f) => {
      f.cluster.leases.push(vxlanLease('10.244.9.0/24', '198.18.0.1', MACS.own));
    });
    const c = by(checks, 'lease.duplicate_public_ip.198.18.0.1');
    expect(c.evidence).toBe(
      '2 leases claim PublicIP 198.18.0.1: 10.244.1.0/24, 10.244.9.0/24 (peers route only one of them)',
    );
    expect(c.fix).toBe('etcdctl del /coreos.com/network/subnets/10.244.9.0-24');
    expect(by(checks, 'lease.own').evidence).toMatch(/^10\.244\.1\.0\/24 holds PublicIP 198\.18\.0\.1/);
  });

  it('names a subnet.env that disagrees with the lease', () => {
    const checks = broken((f) => {
      f.local.subnetEnv!['FLANNEL_SUBNET'] = '10.244.7.1/24';
    });
    const c = by(checks, 'lease.subnet_env');
    expect(c.verdict).toBe('fail');
    expect(c.evidence).toBe('FLANNEL_SUBNET=10.244.7.1/24 but our lease is 10.244.1.0/24');
  });

  it('warns about leases of another backend type', () => {
    const checks = broken((f) => {
      f.cluster.leases.push({ subnet: net('10.244.4.0/24'), attrs: { publicIp: ip('198.18.0.4') } });
    });
    const c = by(checks, 'lease.backend_type');
    expect(c.verdict).toBe('warn');
    expect(c.evidence).toBe(
      '1 lease(s) of another backend, unreachable from here: 10.244.4.0/24 (198.18.0.4, udp)',
    );
  });

  it('reads rp_filter as the kernel does: max(all, device)', () => {
    const checks = broken((f) => {
      f.host.rpFilter['all'] = '1';
      f.host.rpFilter['flannel.1'] = '0';
    });
    const c = by(checks, 'host.rp_filter');
    expect(c.verdict).toBe('warn');
    expect(c.evidence).toMatch(/^rp_filter is strict \(1\) on flannel\.1, cni0 \(from conf\.all\)/);
    expect(c.fix).toBe(
      'sysctl -w net.ipv4.conf.flannel/1.rp_filter=2; sysctl -w net.ipv4.conf.cni0.rp_filter=2; sysctl -w net.ipv4.conf.all.rp_filter=2',
    );
  });

  it('fails FORWARD DROP only when nothing accepts the network', () => {
    const drop = broken((f) => {
      f.host.iptables.filterSave = '*filter\n:FORWARD DROP [0:0]\nCOMMIT\n';
      f.daemon.running = false;
    });
    expect(by(drop, 'host.forward').verdict).toBe('fail');
    expect(by(drop, 'host.forward').fix).toBe(
      'iptables -A FORWARD -s 10.244.0.0/16 -j ACCEPT; iptables -A FORWARD -d 10.244.0.0/16 -j ACCEPT (overlayd --iptables-forward-rules adds them)',
    );
    const accept = broken((f) => {
      f.host.iptables.filterSave = '*filter\n:FORWARD ACCEPT [0:0]\nCOMMIT\n';
      f.daemon.running = false;
    });
    expect(by(accept, 'host.forward').verdict).toBe('ok');
    // Running daemon with --iptables-forward-rules but its chain gone: it should have put it back.
    const drifted = broken((f) => {
      f.host.iptables.filterSave = '*filter\n:FORWARD ACCEPT [0:0]\nCOMMIT\n';
    });
    expect(by(drifted, 'host.forward').verdict).toBe('warn');
  });

  it('warns when iptables-legacy and iptables-nft both hold rules', () => {
    const c = by(
      broken((f) => void (f.host.iptables.legacyRules = 4)),
      'host.iptables_variants',
    );
    expect(c.verdict).toBe('warn');
    expect(c.evidence).toMatch(/^iptables-legacy holds 4 rule\(s\) and iptables-nft 3/);
  });

  it('grades conntrack fill: 75 % warns, 90 % fails', () => {
    expect(
      by(
        broken((f) => void (f.host.conntrack = { count: 800, max: 1000 })),
        'host.conntrack',
      ).verdict,
    ).toBe('warn');
    const full = by(
      broken((f) => void (f.host.conntrack = { count: 950, max: 1000 })),
      'host.conntrack',
    );
    expect(full.verdict).toBe('fail');
    expect(full.fix).toBe('sysctl -w net.netfilter.nf_conntrack_max=2000');
  });

  it('fails checksum offload only with UDP checksum errors seen, and offers the workaround', () => {
    const c = by(
      broken((f) => void (f.host.udpInCsumErrors = 12)),
      'host.checksum_offload',
    );
    expect(c.verdict).toBe('fail');
    expect(c.fix).toBe(
      'ethtool -K flannel.1 tx-checksum-ip-generic off (or: overlayd diagnose --fix-checksum-offload)',
    );
    expect(
      by(
        broken((f) => void (f.host.txChecksumIpGeneric = 'off')),
        'host.checksum_offload',
      ).evidence,
    ).toMatch(/^tx-checksum-ip-generic off \(workaround applied\)/);
  });

  it('warns about br_netfilter missing or bridge-nf-call-iptables off', () => {
    const gone = by(
      broken((f) => void delete f.host.bridgeNfCallIptables),
      'host.br_netfilter',
    );
    expect(gone.fix).toMatch(/^modprobe br_netfilter/);
    const off = by(
      broken((f) => void (f.host.bridgeNfCallIptables = '0')),
      'host.br_netfilter',
    );
    expect(off.fix).toBe('sysctl -w net.bridge.bridge-nf-call-iptables=1 (and in /etc/sysctl.d/)');
  });

  it('names a blocked underlay port when the overlay probe fails but the PublicIP answers', () => {
    const c = by(
      broken((f) => {
        f.probes![0] = { ...f.probes![0]!, overlay: { ok: false }, underlay: { ok: true, rttMs: 0.1 } };
      }),
      'peer.10.244.2.0/24',
    );
    expect(c.verdict).toBe('fail');
    expect(c.evidence).toBe(
      'no echo reply from 10.244.2.0 through the overlay, but 198.18.0.2 answers ping in 0.100 ms: UDP 8472 to 198.18.0.2 blocked?',
    );
  });

  it('says a peer is down when neither overlay nor PublicIP answer', () => {
    const c = by(
      broken((f) => {
        f.probes![1] = { ...f.probes![1]!, overlay: { ok: false }, underlay: { ok: false } };
      }),
      'peer.10.244.3.0/24',
    );
    expect(c.evidence).toContain('198.18.0.3 does not answer ping either');
  });

  it('names a path MTU below FLANNEL_MTU, and a cached one with its flush', () => {
    const small = broken((f) => {
      f.probes![0] = { ...f.probes![0]!, largestDf: 1354 };
    });
    expect(by(small, 'peer.10.244.2.0/24').evidence).toContain(
      'the largest packet that passes with DF is 1354 B and pods use FLANNEL_MTU 1450',
    );
    expect(by(small, 'peer.10.244.2.0/24').fix).toMatch(
      /^find the smaller MTU on the path to 198\.18\.0\.2 \(ping -M do -s 1472 198\.18\.0\.2/,
    );
    const cached = broken((f) => {
      f.probes![0] = { ...f.probes![0]!, largestDf: 1350 };
      f.kernel.pmtu = [{ dst: ip('10.244.2.0'), mtu: 1350 }];
    });
    expect(by(cached, 'peer.10.244.2.0/24').evidence).toContain(
      'the kernel caches a path MTU of 1350 for 10.244.2.0',
    );
    expect(by(cached, 'peer.10.244.2.0/24').fix).toMatch(/ip route flush cache/);
  });

  it('names a peer routed out of another interface than the one overlayd uses', () => {
    const checks = broken((f) => {
      f.kernel.links.push({ index: 3, name: 'eth1', up: true, mtu: 1500, addrs: [] });
      f.kernel.routes.push({ dst: ip('198.18.0.0'), dstLen: 24, oif: 2, protocol: 2 });
      f.kernel.routes.push({ dst: ip('198.18.0.3'), dstLen: 32, oif: 3, protocol: 3 });
    });
    const c = by(checks, 'iface.route');
    expect(c.verdict).toBe('warn');
    expect(c.evidence).toBe(
      'overlayd uses eth0 (198.18.0.1) but the route to 198.18.0.3 leaves by eth1: the wrong interface?',
    );
    expect(c.fix).toMatch(/^set --iface=eth1/);
  });

  it('stops at etcd when it does not answer, still checking the host', () => {
    const checks = broken((f) => {
      f.cluster.etcdError = 'etcd list failed: 14 UNAVAILABLE';
      f.cluster.leases = [];
      delete f.cluster.config;
    });
    expect(notOk(checks)).toEqual(['etcd.reachable']);
    expect(by(checks, 'host.ip_forward').verdict).toBe('ok');
  });

  it("checks the udp backend's TUN and network route", () => {
    const checks = broken((f) => {
      f.cluster.config = JSON.parse(JSON.stringify(f.cluster.config));
      (f.cluster.config as { backendType: string }).backendType = 'udp';
      f.cluster.leases = f.cluster.leases.map((l) => ({
        subnet: l.subnet,
        attrs: { publicIp: l.attrs.publicIp },
      }));
      f.kernel.links[1] = { index: 5, name: 'flannel0', up: true, mtu: 1472, kind: 'tun', addrs: [] };
      f.kernel.routes = [];
      f.local.subnetEnv!['FLANNEL_MTU'] = '1472';
      f.probes = [];
    });
    const d = by(checks, 'kernel.device');
    expect(d.verdict).toBe('fail');
    expect(d.evidence).toBe('route 10.244.0.0/16 missing');
    expect(d.fix).toBe('ip route replace 10.244.0.0/16 dev flannel0');
  });
});
