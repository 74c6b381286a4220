/**
 * Facts of a healthy vxlan node for the evaluator tests: node 198.18.0.1 holding 10.244.1.0/24,
 * peers 10.244.2.0/24 (198.18.0.2) and 10.244.3.0/24 (198.18.0.3), every kernel entry in place,
 * one pod on cni0. Tests copy it and break one thing.
 */
import { parseCidr, parseIpv4 } from '../core/ipv4.js';
import type { Lease } from '../core/lease.js';
import { parseNetworkConfig } from '../subnet-lease/network-config.js';
import type { Facts, KernelLink } from './facts.js';

export const ip = (s: string): number => parseIpv4(s)!;
export const net = (s: string) => parseCidr(s)!;

export const MACS = { own: '0e:00:00:00:00:01', p2: '0e:00:00:00:00:02', p3: '0e:00:00:00:00:03' };

export function vxlanLease(subnet: string, publicIp: string, mac: string): Lease {
  return {
    subnet: net(subnet),
    attrs: { publicIp: ip(publicIp), backendType: 'vxlan', backendData: { VNI: 1, VtepMAC: mac } },
  };
}

export const FWD_SAVE = [
  '*filter',
  ':INPUT ACCEPT [0:0]',
  ':FORWARD DROP [0:0]',
  ':OUTPUT ACCEPT [0:0]',
  ':FLANNEL-FWD - [0:0]',
  '-A FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD',
  '-A FLANNEL-FWD -s 10.244.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT',
  '-A FLANNEL-FWD -d 10.244.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT',
  'COMMIT',
].join('\n');

export function healthyFacts(): Facts {
  const eth0: KernelLink = {
    index: 2,
    name: 'eth0',
    up: true,
    mtu: 1500,
    mac: '02:00:00:00:00:aa',
    addrs: [{ ip: ip('198.18.0.1'), prefixLen: 24 }],
  };
  const fl: KernelLink = {
    index: 5,
    name: 'flannel.1',
    up: true,
    mtu: 1450,
    mac: MACS.own,
    kind: 'vxlan',
    vxlan: { vni: 1, port: 8472, local: ip('198.18.0.1'), link: 2 },
    addrs: [{ ip: ip('10.244.1.0'), prefixLen: 32 }],
  };
  const cni: KernelLink = {
    index: 6,
    name: 'cni0',
    up: true,
    mtu: 1450,
    kind: 'bridge',
    addrs: [{ ip: ip('10.244.1.1'), prefixLen: 24 }],
  };
  const veth: KernelLink = {
    index: 7,
    name: 'veth1234',
    up: true,
    mtu: 1450,
    kind: 'veth',
    master: 6,
    addrs: [],
  };
  const peers = [
    vxlanLease('10.244.2.0/24', '198.18.0.2', MACS.p2),
    vxlanLease('10.244.3.0/24', '198.18.0.3', MACS.p3),
  ];
  return {
    cluster: {
      etcdEndpoints: ['http://198.18.0.100:2379'],
      configKey: '/coreos.com/network/config',
      subnetsPrefix: '/coreos.com/network/subnets/',
      config: parseNetworkConfig('{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}'),
      leases: [vxlanLease('10.244.1.0/24', '198.18.0.1', MACS.own), ...peers],
      malformed: [],
    },
    local: {
      iface: { name: 'eth0', publicIp: ip('198.18.0.1'), mtu: 1500 },
      subnetFile: '/run/flannel/subnet.env',
      subnetEnv: {
        FLANNEL_NETWORK: '10.244.0.0/16',
        FLANNEL_SUBNET: '10.244.1.1/24',
        FLANNEL_MTU: '1450',
        FLANNEL_IPMASQ: 'false',
      },
    },
    kernel: {
      links: [eth0, fl, cni, veth],
      routes: peers.map((p) => ({
        dst: p.subnet.ip,
        dstLen: 24,
        gateway: p.subnet.ip,
        oif: 5,
        protocol: 77,
      })),
      pmtu: [],
      neighs: peers.map((p, i) => ({ ifindex: 5, ip: p.subnet.ip, mac: [MACS.p2, MACS.p3][i]! })),
      fdbs: peers.map((p, i) => ({ ifindex: 5, mac: [MACS.p2, MACS.p3][i]!, dst: p.attrs.publicIp })),
    },
    host: {
      ipForward: '1',
      rpFilter: { all: '0', 'flannel.1': '0', cni0: '0', eth0: '0' },
      bridgeNfCallIptables: '1',
      iptables: { filterSave: FWD_SAVE, legacyRules: 0, nftRules: 3 },
      conntrack: { count: 100, max: 262144 },
      txChecksumIpGeneric: 'on',
      udpInCsumErrors: 0,
      kernelRelease: '6.18.0',
    },
    daemon: { running: true, ready: true, socket: '/run/flannel/overlayd.sock' },
    probes: peers.map((p) => ({
      subnet: p.subnet,
      publicIp: p.attrs.publicIp,
      target: p.subnet.ip,
      overlay: { ok: true, rttMs: 0.2 },
      largestDf: 1450,
      probedUpTo: 1450,
    })),
    expect: { iptablesForwardRules: true, tunName: 'flannel0' },
  };
}
