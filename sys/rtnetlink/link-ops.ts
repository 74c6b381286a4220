/**
 * Small idempotent operations on links and their addresses, shared by the udp TUN and the vxlan
 * device: look a link up, bring it up with an MTU, make one IPv4 address the only one inside the
 * overlay network (flannel's EnsureV4AddressOnLink).
 */
import { containsIp, type Ipv4Net } from '../../core/ipv4.js';
import { ENODEV, EEXIST } from './errno.js';
import type { RtNetlink } from './netlink-socket.js';
import { NetlinkError } from './netlink-socket.js';
import {
  addAddr,
  deleteAddr,
  dumpAddrs,
  getLinkByName,
  parseAddr,
  parseLink,
  setLink,
  type Link,
} from './objects.js';

export function findLink(nl: RtNetlink, name: string): Link | undefined {
  try {
    const msgs = nl.dump(`get link ${name}`, getLinkByName(name));
    for (const m of msgs) {
      const l = parseLink(m);
      if (l && l.name === name) return l;
    }
    return undefined;
  } catch (err) {
    if (err instanceof NetlinkError && err.errno === ENODEV) return undefined;
    throw err;
  }
}

export function setUp(nl: RtNetlink, index: number, mtu?: number): void {
  nl.request(`set link ${index} up`, setLink(index, mtu === undefined ? { up: true } : { up: true, mtu }));
}

/**
 * Puts `ip/prefixLen` on the link and removes its other addresses inside `network` (a lease that
 * moved leaves its old address behind otherwise).
 */
export function ensureOnlyAddress(
  nl: RtNetlink,
  index: number,
  ip: number,
  prefixLen: number,
  network: Ipv4Net,
): void {
  for (const m of nl.dump('dump addresses', dumpAddrs())) {
    const a = parseAddr(m);
    if (!a || a.index !== index || a.local === undefined) continue;
    if (a.local === ip && a.prefixLen === prefixLen) continue;
    if (containsIp(network, a.local))
      nl.request('delete stale address', deleteAddr(index, a.local, a.prefixLen));
  }
  nl.request('add address', addAddr(index, ip, prefixLen), [EEXIST]);
}
