/**
 * External interface selection with flannel's rules (pkg/ipmatch): --iface (name or IP, in order),
 * then --iface-regex (on name or IP), else the default route's interface; with only --public-ip,
 * the interface holding that address. The choice is pure; reading the host's interfaces is the
 * small I/O function at the bottom.
 */
import { readFileSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { OverlaydError } from './errors.js';

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

export interface ExternalInterface {
  readonly name: string;
  /** The interface's own address (IfaceAddr). */
  readonly ifaceAddr: string;
  /** The address other nodes reach us at (ExtAddr): --public-ip or ifaceAddr. */
  readonly publicIp: string;
  readonly mtu: number;
  readonly reason: string;
}

export interface IfaceFlags {
  readonly iface: readonly string[];
  readonly ifaceRegex: readonly string[];
  readonly publicIp: string;
}

const isIp = (s: string): boolean => /^\d+\.\d+\.\d+\.\d+$/.test(s);

function pick(view: HostView, flags: IfaceFlags): { iface: HostInterface; addr: string; reason: string } {
  const withV4 = view.interfaces.filter((i) => i.addrs.length > 0);
  for (const want of flags.iface) {
    const iface = isIp(want)
      ? withV4.find((i) => i.addrs.includes(want))
      : withV4.find((i) => i.name === want);
    if (iface) return { iface, addr: isIp(want) ? want : iface.addrs[0]!, reason: `matches --iface ${want}` };
  }
  for (const re of flags.ifaceRegex) {
    const rx = new RegExp(re);
    for (const iface of withV4) {
      if (rx.test(iface.name))
        return { iface, addr: iface.addrs[0]!, reason: `name matches --iface-regex ${re}` };
      const addr = iface.addrs.find((a) => rx.test(a));
      if (addr) return { iface, addr, reason: `address matches --iface-regex ${re}` };
    }
  }
  if (flags.iface.length > 0 || flags.ifaceRegex.length > 0) {
    const tried = [
      ...flags.iface.map((i) => `--iface ${i}`),
      ...flags.ifaceRegex.map((r) => `--iface-regex ${r}`),
    ].join(', ');
    const have = withV4.map((i) => `${i.name} (${i.addrs.join(', ')})`).join(', ') || 'none';
    throw new OverlaydError('IFACE', `no interface matches ${tried}; interfaces with IPv4 here: ${have}`);
  }
  if (flags.publicIp !== '') {
    const iface = withV4.find((i) => i.addrs.includes(flags.publicIp));
    if (!iface) {
      throw new OverlaydError(
        'IFACE',
        `--public-ip ${flags.publicIp} is not an address of this host, and no --iface was given to pick the interface; add --iface NAME`,
      );
    }
    return { iface, addr: flags.publicIp, reason: `holds --public-ip ${flags.publicIp}` };
  }
  const name = view.defaultRouteIface;
  const iface = name === undefined ? undefined : withV4.find((i) => i.name === name);
  if (!iface) {
    throw new OverlaydError(
      'IFACE',
      name === undefined
        ? 'no default route to pick the external interface from; give --iface NAME or --iface-regex'
        : `default route interface ${name} has no IPv4 address; give --iface NAME`,
    );
  }
  return { iface, addr: iface.addrs[0]!, reason: 'default route interface' };
}

export function selectInterface(view: HostView, flags: IfaceFlags): ExternalInterface {
  const { iface, addr, reason } = pick(view, flags);
  const mtu = iface.mtu;
  if (mtu === undefined || !(mtu > 0))
    throw new OverlaydError(
      'IFACE',
      `external interface ${iface.name}: ${iface.mtuProblem ?? `reports MTU ${mtu}`}; cannot size the overlay ` +
        `(FLANNEL_MTU) without it: check the interface, or pick another with --iface`,
    );
  return { name: iface.name, ifaceAddr: addr, publicIp: flags.publicIp || addr, mtu, reason };
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
