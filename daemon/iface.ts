/**
 * External interface selection with flannel's rules (pkg/ipmatch): --iface (name or IP, in order),
 * then --iface-regex (on name or IP), else the default route's interface; with only --public-ip,
 * the interface holding that address. The choice is pure; sys/host-view.ts reads the host.
 */
import { OverlaydError } from '../core/errors.js';
import type { ExternalInterface } from '../core/external-interface.js';
import type { HostInterface, HostView } from '../sys/host-view.js';

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
