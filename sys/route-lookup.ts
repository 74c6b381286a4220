/**
 * `ip route get <addr>`: which interface (and source address) the kernel would use to reach an
 * address, for flannel's --iface-can-reach. iproute2 asks the kernel with RTM_GETROUTE, the same
 * lookup flannel makes through netlink.RouteGet; its JSON output is parsed purely below.
 */
import { execFileSync } from 'node:child_process';
import { OverlaydError } from '../core/errors.js';

export interface RouteChoice {
  /** The interface the route leaves by. */
  readonly dev: string;
  /** The source address the kernel would pick, when it names one. */
  readonly src?: string;
}

/** Parses `ip -j route get` output; undefined when it names no interface. */
export function parseRouteGet(json: string): RouteChoice | undefined {
  let rows: unknown;
  try {
    rows = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (!Array.isArray(rows)) return undefined;
  for (const r of rows as Array<Record<string, unknown>>) {
    if (typeof r?.['dev'] !== 'string') continue;
    const src = r['prefsrc'];
    return typeof src === 'string' && src !== '' ? { dev: r['dev'], src } : { dev: r['dev'] };
  }
  return undefined;
}

/** Asks the kernel for the route to `addr`; throws OverlaydError('IFACE') naming the flag. */
export function routeTo(addr: string): RouteChoice {
  let out: string;
  try {
    out = execFileSync('ip', ['-j', 'route', 'get', addr], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    const stderr = String((err as { stderr?: unknown }).stderr ?? '').trim();
    throw new OverlaydError(
      'IFACE',
      `--iface-can-reach ${addr}: no route to it here (${stderr || 'ip route get failed'}); give an address this host routes to, or --iface`,
      { cause: err },
    );
  }
  const r = parseRouteGet(out);
  if (!r)
    throw new OverlaydError('IFACE', `--iface-can-reach ${addr}: the route names no interface; give --iface`);
  return r;
}
