/**
 * External interface selection with flannel's rules (pkg/ipmatch): --iface (name or IP, in order),
 * then --iface-regex (on name or IP), else the default route's interface; with only --public-ip,
 * the interface holding that address. The choice is pure; sys/host-view.ts reads the host.
 */
import { OverlaydError } from '../core/errors.js';
import type { ExternalInterface } from '../core/external-interface.js';
import type { HostInterface, HostView } from '../sys/host-view.js';
import type { RouteChoice } from '../sys/route-lookup.js';

export interface IfaceFlags {
  readonly iface: readonly string[];
  readonly ifaceRegex: readonly string[];
  readonly publicIp: string;
  /** --public-ipv6; only used when the network is dual-stack. */
  readonly publicIpv6?: string;
  /** --iface-can-reach and the kernel's route to it (looked up by the caller: this file is pure). */
  readonly canReach?: { readonly addr: string; readonly route: RouteChoice };
  /** EnableIPv6: the interface must also give us an IPv6 address. */
  readonly ipv6?: boolean;
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
  if (flags.canReach) {
    // flannel tries --iface-can-reach after --iface and --iface-regex: `ip route get <addr>`'s dev.
    const { addr, route } = flags.canReach;
    const iface = view.interfaces.find((i) => i.name === route.dev);
    const v4 = route.src !== undefined && isIp(route.src) ? route.src : iface?.addrs[0];
    if (iface && v4 !== undefined) return { iface, addr: v4, reason: `routes to --iface-can-reach ${addr}` };
  }
  if (flags.iface.length > 0 || flags.ifaceRegex.length > 0 || flags.canReach) {
    const tried = [
      ...flags.iface.map((i) => `--iface ${i}`),
      ...flags.ifaceRegex.map((r) => `--iface-regex ${r}`),
      ...(flags.canReach
        ? [`--iface-can-reach ${flags.canReach.addr} (via ${flags.canReach.route.dev})`]
        : []),
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
  if (flags.ipv6) {
    // flannel in dual-stack: the IPv6 default route must leave by the same interface.
    const v6 = view.defaultRouteIface6;
    if (v6 === undefined)
      throw new OverlaydError(
        'IFACE',
        `no IPv6 default route to check the external interface against (EnableIPv6 is on); give --iface ${iface.name} or add an IPv6 default route`,
      );
    if (v6 !== iface.name)
      throw new OverlaydError(
        'IFACE',
        `IPv6 default route interface ${v6} must be the same as the IPv4 one ${iface.name}; give --iface NAME`,
      );
  }
  return { iface, addr: iface.addrs[0]!, reason: 'default route interface' };
}

/** The IPv6 half of the choice: the route's v6 source for --iface-can-reach, else the first global v6. */
function pickV6(iface: HostInterface, flags: IfaceFlags): string {
  const src = flags.canReach?.route.dev === iface.name ? flags.canReach.route.src : undefined;
  const addr = src !== undefined && src.includes(':') ? src : iface.addrs6?.[0];
  if (addr === undefined)
    throw new OverlaydError(
      'IFACE',
      `interface ${iface.name} has no global IPv6 address, and EnableIPv6 needs one; add one or choose another interface with --iface`,
    );
  return addr;
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
  const base = {
    name: iface.name,
    ifaceAddr: addr,
    publicIp: flags.publicIp || addr,
    mtu,
    reason,
  };
  if (!flags.ipv6) return base;
  const v6 = pickV6(iface, flags);
  return { ...base, ifaceV6Addr: v6, publicIpv6: flags.publicIpv6 || v6 };
}
