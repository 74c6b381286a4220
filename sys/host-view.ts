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
  /** Undefined when it could not be read; `mtuProblem` then says why. */
  readonly mtu: number | undefined;
  readonly mtuProblem?: string;
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

/** Where readHostView reads from (the real host unless a test says otherwise). */
export interface HostIo {
  readonly networkInterfaces: typeof networkInterfaces;
  readonly readFile: (path: string) => string;
}

const realIo: HostIo = { networkInterfaces, readFile: (path) => readFileSync(path, 'utf8') };

/** The MTU in /sys/class/net/<name>/mtu, or why there is none (only an error if this is the interface we pick). */
function readMtu(name: string, io: HostIo): { mtu: number | undefined; mtuProblem?: string } {
  const path = `/sys/class/net/${name}/mtu`;
  let text: string;
  try {
    text = io.readFile(path).trim();
  } catch (err) {
    const why = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    return { mtu: undefined, mtuProblem: `cannot read its MTU from ${path} (${why})` };
  }
  const mtu = Number(text);
  if (!/^\d+$/.test(text) || !(mtu > 0))
    return { mtu: undefined, mtuProblem: `${path} holds ${JSON.stringify(text)}, not an MTU` };
  return { mtu };
}

/** Reads this host's (this network namespace's) interfaces. */
export function readHostView(io: HostIo = realIo): HostView {
  const interfaces: HostInterface[] = [];
  for (const [name, addrs] of Object.entries(io.networkInterfaces())) {
    interfaces.push({
      name,
      addrs: (addrs ?? []).filter((a) => a.family === 'IPv4').map((a) => a.address),
      ...readMtu(name, io),
    });
  }
  let defaultRouteIface: string | undefined;
  try {
    defaultRouteIface = defaultRouteFromProc(io.readFile('/proc/net/route'));
  } catch {
    defaultRouteIface = undefined;
  }
  return defaultRouteIface === undefined ? { interfaces } : { interfaces, defaultRouteIface };
}
