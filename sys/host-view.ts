/**
 * What the daemon chooses its external interface from: this network namespace's interfaces with
 * their IPv4 addresses and MTUs (/sys/class/net/<name>/mtu) and the default route's interface
 * (/proc/net/route). Parsing is pure; readHostView is the I/O.
 */
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';

export interface HostInterface {
  readonly name: string;
  /** IPv4 addresses, primary first. */
  readonly addrs: readonly string[];
  readonly mtu: number;
}

export interface HostView {
  readonly interfaces: readonly HostInterface[];
  /** Interface of the IPv4 default route, if any. */
  readonly defaultRouteIface?: string;
}

/** Parses /proc/net/route: the interface of the 0.0.0.0/0 route with the lowest metric. */
export function defaultRouteFromProc(text: string): string | undefined {
  let best: { iface: string; metric: number } | undefined;
  for (const line of text.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 8) continue;
    const [iface, dest, , , , , metric, mask] = cols as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    if (dest !== '00000000' || mask !== '00000000') continue;
    const m = Number(metric);
    if (!best || m < best.metric) best = { iface, metric: m };
  }
  return best?.iface;
}

/** Reads this host's (this network namespace's) interfaces. */
export function readHostView(): HostView {
  const interfaces: HostInterface[] = [];
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    let mtu = 0;
    try {
      mtu = Number(readFileSync(`/sys/class/net/${name}/mtu`, 'utf8').trim());
    } catch {
      mtu = 0;
    }
    interfaces.push({
      name,
      addrs: (addrs ?? []).filter((a) => a.family === 'IPv4').map((a) => a.address),
      mtu,
    });
  }
  let defaultRouteIface: string | undefined;
  try {
    defaultRouteIface = defaultRouteFromProc(readFileSync('/proc/net/route', 'utf8'));
  } catch {
    defaultRouteIface = undefined;
  }
  return defaultRouteIface === undefined ? { interfaces } : { interfaces, defaultRouteIface };
}
