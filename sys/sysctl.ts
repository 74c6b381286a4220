/** Per-device kernel settings under /proc/sys that the backends set the way flanneld does. */
import { writeFile } from 'node:fs/promises';

/**
 * net.ipv6.conf.<device>.accept_ra = 0, as flannel sets it on its vxlan device. Best effort: with
 * IPv6 disabled the file does not exist and there are no router advertisements to refuse.
 */
export function refuseRouterAdvertisements(device: string): Promise<void> {
  return writeFile(`/proc/sys/net/ipv6/conf/${device}/accept_ra`, '0').catch(() => undefined);
}
