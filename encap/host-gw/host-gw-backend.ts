/**
 * host-gw backend: no encapsulation, a kernel route per peer — <peer subnet> via <peer PublicIP>
 * dev <external interface> — so peers must share our L2. Dual-stack adds <peer v6 subnet> via
 * <peer PublicIPv6> dev <external interface> for peers that published both. Nearly pure configuration over the
 * shared kernel-sync code: refuse NAT at start (flannel's rule), count peers whose gateway is
 * not on-link instead of failing, re-add missing routes every 10 s.
 */
import { OverlaydError } from '../../core/errors.js';
import type { Lease } from '../../core/lease.js';
import { findLink } from '../../sys/rtnetlink/link-ops.js';
import type { Backend, BackendContext, Registration } from '../backend.js';
import { KernelBackend } from '../kernel/kernel-backend.js';
import type { PeerEntries, ReconcileScope } from '../kernel/kernel-sync.js';
import { OVERLAYD_RTPROT } from '../kernel/periodic.js';

export function createHostGwBackend(ctx: BackendContext): Backend {
  return new HostGwBackend(ctx);
}

class HostGwBackend extends KernelBackend {
  readonly type = 'host-gw' as const;
  private ifindex = 0;

  constructor(ctx: BackendContext) {
    super(ctx, {
      message: 'cannot route to peer: host-gw needs every node on one L2 (is the gateway on-link?)',
      reason: 'gateway_not_onlink',
    });
  }

  async register(): Promise<Registration> {
    const { extIface } = this.ctx;
    if (extIface.publicIp !== extIface.ifaceAddr) {
      throw new OverlaydError(
        'BACKEND',
        `host-gw: your PublicIP ${extIface.publicIp} differs from the interface address ${extIface.ifaceAddr} - probably you're on a NAT, which host-gw cannot cross; use vxlan or udp, or drop --public-ip`,
      );
    }
    if (this.ctx.config.ipv6 && extIface.publicIpv6 !== extIface.ifaceV6Addr) {
      throw new OverlaydError(
        'BACKEND',
        `host-gw: your PublicIPv6 ${extIface.publicIpv6} differs from the interface address ${extIface.ifaceV6Addr} - host-gw cannot cross a NAT; use vxlan, or drop --public-ipv6`,
      );
    }
    const link = findLink(this.nl, extIface.name);
    if (!link) throw new OverlaydError('BACKEND', `external interface ${extIface.name} not found`);
    this.ifindex = link.index;
    return { backendType: 'host-gw', mtu: extIface.mtu };
  }

  protected scope(): ReconcileScope {
    return { protocol: OVERLAYD_RTPROT, ipv6: this.ctx.config.ipv6 !== undefined };
  }

  protected entriesOf(peer: Lease): PeerEntries | string {
    if (peer.attrs.backendType !== 'host-gw') return 'other_backend';
    const sn6 = peer.ipv6Subnet;
    const gw6 = peer.attrs.publicIpv6;
    // A single-stack peer (or one without PublicIPv6) gets its IPv4 route only, as in flannel.
    const v6 =
      this.ctx.config.ipv6 && sn6 && gw6 !== undefined
        ? {
            routes6: [
              {
                dst: sn6.ip,
                dstLen: sn6.prefixLen,
                gateway: gw6,
                oif: this.ifindex,
                protocol: OVERLAYD_RTPROT,
              },
            ],
          }
        : {};
    return {
      ...v6,
      neighs: [],
      fdbs: [],
      routes: [
        {
          dst: peer.subnet.ip,
          dstLen: peer.subnet.prefixLen,
          gateway: peer.attrs.publicIp,
          oif: this.ifindex,
          protocol: OVERLAYD_RTPROT,
        },
      ],
    };
  }
}
