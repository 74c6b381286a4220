/**
 * Everything diagnose looks at, gathered once (gather-*.ts, the only I/O) and then judged by pure
 * evaluators (checks-*.ts). Addresses are numbers as in subnet-lease/ipv4; absent means "could not
 * be read", with the reason in the matching *Error field where one helps the operator.
 */
import type { Ipv4Net } from '../core/ipv4.js';
import type { Lease } from '../core/lease.js';
import type { NetworkConfig } from '../core/network.js';

export interface ClusterFacts {
  readonly etcdEndpoints: readonly string[];
  /** undefined: etcd answered; else why not. */
  readonly etcdError?: string;
  readonly configKey: string;
  readonly config?: NetworkConfig;
  /** Why the config is missing or invalid (the daemon's own message). */
  readonly configError?: string;
  readonly leases: readonly Lease[];
  /** Keys under subnets/ that are not valid leases. */
  readonly malformed: ReadonlyArray<{ key: string; reason: string }>;
  readonly subnetsPrefix: string;
}

export interface LocalFacts {
  /** The interface the daemon would pick, or why none. */
  readonly iface?: { name: string; publicIp: number; mtu: number };
  readonly ifaceError?: string;
  readonly subnetFile: string;
  /** subnet.env as read; undefined when missing. */
  readonly subnetEnv?: Readonly<Record<string, string>>;
  readonly subnetEnvError?: string;
}

export interface KernelLink {
  readonly index: number;
  readonly name: string;
  readonly up: boolean;
  readonly mtu: number;
  readonly mac?: string;
  readonly kind?: string;
  readonly master?: number;
  readonly vxlan?: { vni: number; port: number; local: number; link: number };
  readonly addrs: ReadonlyArray<{ ip: number; prefixLen: number }>;
}

export interface KernelRoute {
  readonly dst: number;
  readonly dstLen: number;
  readonly gateway?: number;
  readonly oif?: number;
  readonly protocol: number;
}

export interface KernelFacts {
  readonly links: readonly KernelLink[];
  /** Main-table IPv4 routes (without cached exceptions). */
  readonly routes: readonly KernelRoute[];
  /** Cached path-MTU exceptions (learned from ICMP "fragmentation needed"), by destination. */
  readonly pmtu: ReadonlyArray<{ dst: number; mtu: number }>;
  /** Permanent IPv4 neighbours. */
  readonly neighs: ReadonlyArray<{ ifindex: number; ip: number; mac: string }>;
  /** Bridge FDB entries with a remote destination (vxlan). */
  readonly fdbs: ReadonlyArray<{ ifindex: number; mac: string; dst: number }>;
  readonly error?: string;
}

export interface IptablesFacts {
  /** `iptables-save -t filter` through the default iptables; undefined when it cannot run. */
  readonly filterSave?: string;
  readonly error?: string;
  /** Rule counts (-A lines, all tables) per variant when that variant holds tables. */
  readonly legacyRules?: number;
  readonly nftRules?: number;
}

export interface HostFacts {
  readonly ipForward?: string;
  /** rp_filter per device name, plus "all". */
  readonly rpFilter: Readonly<Record<string, string>>;
  /** undefined: /proc/sys/net/bridge is absent (br_netfilter not loaded). */
  readonly bridgeNfCallIptables?: string;
  readonly iptables: IptablesFacts;
  readonly conntrack?: { count: number; max: number };
  /** ethtool -k <overlay device>: tx-checksum-ip-generic on/off; undefined when not read. */
  readonly txChecksumIpGeneric?: 'on' | 'off';
  readonly ethtoolError?: string;
  /** Udp InCsumErrors from /proc/net/snmp (the "UDP: bad checksum" counter). */
  readonly udpInCsumErrors?: number;
  readonly kernelRelease: string;
}

export interface PingResult {
  readonly ok: boolean;
  readonly rttMs?: number;
}

export interface PeerProbe {
  readonly subnet: Ipv4Net;
  readonly publicIp: number;
  /** What was pinged through the overlay (the peer's .0 on flannel.N / flannel0, or .1 on cni0). */
  readonly target: number;
  readonly overlay: PingResult;
  /** Plain ping of the peer's PublicIP, taken when the overlay probe failed. */
  readonly underlay?: PingResult;
  /** Largest IP packet (bytes) that passed with DF set; undefined when the overlay probe failed. */
  readonly largestDf?: number;
  /** The size search ran up to this many bytes: largestDf === probedUpTo means "at least". */
  readonly probedUpTo?: number;
}

export interface DaemonFacts {
  /** The status endpoint answered. */
  readonly running: boolean;
  readonly ready?: boolean;
  readonly socket: string;
  readonly error?: string;
}

export interface Facts {
  readonly cluster: ClusterFacts;
  readonly local: LocalFacts;
  readonly kernel: KernelFacts;
  readonly host: HostFacts;
  readonly daemon: DaemonFacts;
  /** undefined when probes were not run (--no-probes, or nothing to probe). */
  readonly probes?: readonly PeerProbe[];
  /** Options of the daemon that change what is expected. */
  readonly expect: { readonly iptablesForwardRules: boolean; readonly tunName: string };
}
