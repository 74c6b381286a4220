/**
 * I/O: per-peer probes through the real datapath, with iputils ping (ICMP needs a raw socket, which
 * ping already holds the capability for). For each peer: three echoes to its overlay address bound
 * to our overlay device; when they fail, two plain echoes to its PublicIP (is the node there at
 * all?); when they pass, the largest packet that gets through with DF set, searched in parallel
 * rounds between 68 bytes and the device MTU.
 */
import { formatIpv4 } from '../core/ipv4.js';
import type { Lease } from '../core/lease.js';
import type { PeerProbe, PingResult } from './facts.js';
import { runTool } from './run.js';

/** IPv4 + ICMP headers: ping -s takes the payload, the packet is 28 bytes more. */
const ICMP_IP_HEADERS = 28;
const MIN_PACKET = 68;

/** Parses ping -q's summary: "3 packets transmitted, 2 received" and "rtt min/avg/max/mdev = …". */
export function parsePing(out: string): PingResult {
  const rx = /(\d+) (?:packets )?received/.exec(out);
  const received = rx ? Number(rx[1]) : 0;
  const rtt = /= [\d.]+\/([\d.]+)\//.exec(out);
  return received > 0 ? { ok: true, ...(rtt ? { rttMs: Number(rtt[1]) } : {}) } : { ok: false };
}

export interface ProbeTarget {
  readonly lease: Lease;
  readonly target: number;
}

async function ping(
  dst: number,
  opts: { count: number; device?: string; size?: number },
): Promise<PingResult> {
  const args = ['-n', '-q', '-c', String(opts.count), '-i', '0.2', '-W', '1'];
  if (opts.device) args.push('-I', opts.device);
  if (opts.size !== undefined) args.push('-M', 'do', '-s', String(opts.size - ICMP_IP_HEADERS));
  args.push(formatIpv4(dst));
  const r = await runTool('ping', args, 10_000);
  return parsePing(r.stdout);
}

/** Largest packet size in [lo, hi] that passes, knowing lo passes: parallel rounds of 8 sizes. */
async function largestPassing(
  lo: number,
  hi: number,
  passes: (size: number) => Promise<boolean>,
): Promise<number> {
  while (hi - lo > 1) {
    const step = Math.max(1, Math.ceil((hi - lo) / 9));
    const sizes: number[] = [];
    for (let s = lo + step; s < hi; s += step) sizes.push(s);
    const results = await Promise.all(sizes.map(passes));
    let newLo = lo;
    let newHi = hi;
    sizes.forEach((s, i) => {
      if (results[i] && s > newLo) newLo = s;
    });
    for (let i = sizes.length - 1; i >= 0; i--) if (!results[i] && sizes[i]! > newLo) newHi = sizes[i]!;
    if (newLo === lo && newHi === hi) break;
    lo = newLo;
    hi = newHi;
  }
  return lo;
}

export async function probePeer(
  t: ProbeTarget,
  device: string | undefined,
  podMtu: number,
  deviceMtu: number,
): Promise<PeerProbe> {
  const base = { subnet: t.lease.subnet, publicIp: t.lease.attrs.publicIp, target: t.target };
  const dev = device ? { device } : {};
  const overlay = await ping(t.target, { count: 3, ...dev });
  if (!overlay.ok) return { ...base, overlay, underlay: await ping(t.lease.attrs.publicIp, { count: 2 }) };
  const passes = async (size: number): Promise<boolean> =>
    (await ping(t.target, { count: 2, size, ...dev })).ok;
  const top = Math.max(podMtu, deviceMtu);
  const [atPod, atTop] = await Promise.all([
    passes(podMtu),
    top > podMtu ? passes(top) : Promise.resolve(false),
  ]);
  let largest: number;
  if (atTop) largest = top;
  else if (atPod) largest = top > podMtu ? await largestPassing(podMtu, top, passes) : podMtu;
  else largest = await largestPassing(MIN_PACKET, podMtu, passes);
  return { ...base, overlay, largestDf: largest, probedUpTo: top };
}

/** Probes every peer, a few at a time (each failing echo waits its 1 s deadline). */
export async function probePeers(
  targets: readonly ProbeTarget[],
  device: string | undefined,
  podMtu: number,
  deviceMtu: number,
): Promise<PeerProbe[]> {
  const out: PeerProbe[] = new Array(targets.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < targets.length) {
      const i = next++;
      out[i] = await probePeer(targets[i]!, device, podMtu, deviceMtu);
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, targets.length) }, worker));
  return out;
}
