/**
 * IPv6 needs a link MTU of at least 1280 (RFC 8200 §5); below it the kernel turns IPv6 off on the
 * device, so an IPv6 overlay device sized base − overhead under 1280 would fail later with a bare
 * netlink errno on its address. Refused up front instead, naming the setting that fixes it.
 */
import { OverlaydError } from '../core/errors.js';

export const IPV6_MIN_MTU = 1280;

/** Throws BAD_CONFIG when `device`, at `base` − `overhead`, would be below IPv6's minimum MTU. */
export function refuseBelowIpv6MinMtu(device: string, base: number, overhead: number): void {
  const mtu = base - overhead;
  if (mtu < IPV6_MIN_MTU)
    throw new OverlaydError(
      'BAD_CONFIG',
      `network config: ${device} would get MTU ${mtu} (base ${base} − ${overhead}), below IPv6's minimum of ${IPV6_MIN_MTU}; raise Backend.MTU or the interface MTU to at least ${IPV6_MIN_MTU + overhead}, or disable EnableIPv6`,
    );
}
