/**
 * Opens the udp datapath's file descriptors: the TUN device's queues and the UDP sockets, one of
 * each per datapath queue (queues.ts). More than one queue needs a multi-queue TUN with an eBPF
 * steering program and a SO_REUSEPORT group with a classic BPF one; when the kernel refuses any
 * of it the datapath runs on one queue and says why.
 */
import { OverlaydError, describeError } from '../core/errors.js';
import { formatIpv4 } from '../core/ipv4.js';
import { formatIpv6 } from '../core/ipv6.js';
import { ipOfWords6 } from '../core/ipv6-words.js';
import { nativeSys } from './native.js';

const TUN_F_CSUM = 0x01;
const TUN_F_TSO4 = 0x02;

export interface TunQueues {
  readonly fds: number[];
  /** IFF_VNET_HDR with checksum/TSO offload. */
  readonly vnet: boolean;
  /** Why offloads or extra queues are off (each one a log line). */
  readonly problems: string[];
}

function closeAll(fds: readonly number[]): void {
  const sys = nativeSys();
  for (const fd of fds) sys.close(fd);
}

/** Opens `queues` queues of TUN `name` (fewer — one — when the kernel will not steer them). */
export function openTun(name: string, queues: number, wantOffloads: boolean): TunQueues {
  const sys = nativeSys();
  const problems: string[] = [];
  const multi = queues > 1;
  const open = (vnet: boolean): number => sys.tunOpen(name, vnet, multi)[0];
  let first = -1;
  let vnet = false;
  if (wantOffloads) {
    try {
      first = open(true);
      sys.tunSetOffload(first, TUN_F_CSUM | TUN_F_TSO4);
      vnet = true;
    } catch (err) {
      if (first >= 0) sys.close(first);
      first = -1;
      problems.push(`TUN offloads unavailable (${describeError(err)}); using the plain TUN path`);
    }
  }
  if (first < 0) {
    try {
      first = open(false);
    } catch (err) {
      throw new OverlaydError(
        'BACKEND',
        // The cause is appended by describeError: naming it here too printed it twice.
        `cannot open TUN ${name} (overlayd needs CAP_NET_ADMIN and /dev/net/tun)`,
        { cause: err },
      );
    }
  }
  const fds = [first];
  if (multi) {
    try {
      while (fds.length < queues) fds.push(open(vnet));
      sys.tunSteerByCpu(first);
    } catch (err) {
      closeAll(fds.splice(1));
      problems.push(`TUN queues not steerable by CPU (${describeError(err)}); using one queue`);
    }
  }
  return { fds, vnet, problems };
}

export interface UdpSockets {
  readonly fds: number[];
  readonly problems: string[];
}

/**
 * Binds `queues` sockets to ip:port (fewer — one — when the kernel will not steer them). A plain
 * bind goes first: a SO_REUSEPORT group would otherwise let a second overlayd share the port.
 * `ip` is an IPv4 address, or an IPv6 one as four words (core/ipv6-words.ts): then the sockets are
 * AF_INET6 (IPV6_V6ONLY), for nativeUdpIo6.
 */
export function openUdp(
  ip: number | Uint32Array,
  port: number,
  queues: number,
  bufferBytes: number,
): UdpSockets {
  const sys = nativeSys();
  const problems: string[] = [];
  const open = (reuse?: boolean): number =>
    typeof ip === 'number'
      ? sys.udpOpen(ip, port, bufferBytes, bufferBytes, reuse)
      : sys.udpOpen6(ip, port, bufferBytes, bufferBytes, reuse);
  const shown =
    typeof ip === 'number' ? formatIpv4(ip) : `[${formatIpv6(ipOfWords6(ip[0]!, ip[1]!, ip[2]!, ip[3]!))}]`;
  const plain = (): number => {
    try {
      return open();
    } catch (err) {
      throw new OverlaydError(
        'BACKEND',
        `cannot bind UDP ${shown}:${port}: ${describeError(err)}; is another flanneld/overlayd running?`,
        { cause: err },
      );
    }
  };
  const probe = plain();
  if (queues === 1) return { fds: [probe], problems };
  sys.close(probe);
  const fds: number[] = [];
  try {
    while (fds.length < queues) fds.push(open(true));
    sys.udpSteerByCpu(fds[0]!, queues);
    return { fds, problems };
  } catch (err) {
    closeAll(fds);
    problems.push(`UDP sockets not steerable by CPU (${describeError(err)}); using one queue`);
    return { fds: [plain()], problems };
  }
}

/** Drops queues beyond `n` (when the other side of a queue could not be opened). */
export function keepQueues(fds: number[], n: number): void {
  closeAll(fds.splice(n));
}

/** Turns UDP_GRO on for every socket; false when the kernel refuses it on any. */
export function enableUdpGro(fds: readonly number[]): boolean {
  const sys = nativeSys();
  return fds.every((fd) => sys.udpSetGro(fd, true));
}

/** Pins the calling thread (a datapath worker) to `cpus`; returns 0 or the errno. */
export function pinThisThread(cpus: readonly number[]): number {
  return nativeSys().pinThread(Int32Array.from(cpus));
}
