/**
 * Which vxlan datapath a node runs (--vxlan-datapath): the kernel's vxlan device (vxlan-backend.ts)
 * or the userspace engine on the VXLAN wire (vxlan-userspace.ts). Both publish the same lease and
 * speak the same wire, so peers cannot tell them apart. `auto` (the default) tries the kernel
 * device and falls back to userspace only when the kernel refuses to create it, saying why once.
 */
import { describeError } from '../core/errors.js';
import type { Lease, LeaseEvent } from '../core/lease.js';
import type { Backend, BackendContext, Registration } from '../encap/backend.js';
import { NetlinkError } from '../sys/rtnetlink/netlink-socket.js';
import { createKernelVxlanBackend } from '../encap/vxlan/vxlan-backend.js';
import { parseVxlanConfig } from '../encap/vxlan-config.js';
import { UserspaceVxlanBackend } from '../encap/udp/vxlan-userspace.js';

export type VxlanDatapath = 'kernel' | 'userspace' | 'auto';

export function createVxlanBackend(ctx: BackendContext): Backend {
  return new VxlanDatapathChoice(ctx, (ctx.options['vxlanDatapath'] ?? 'auto') as VxlanDatapath);
}

/** The kernel refused the device itself (no vxlan module, a container, EEXIST for the VNI…). */
const creationRefused = (err: unknown): err is NetlinkError =>
  err instanceof NetlinkError && err.op.startsWith('create ');

class VxlanDatapathChoice implements Backend {
  readonly type = 'vxlan' as const;
  private inner: Backend | undefined;

  constructor(
    private readonly ctx: BackendContext,
    private readonly mode: VxlanDatapath,
  ) {
    const cfg = parseVxlanConfig(ctx.config.backend);
    // Refused before anything is touched: the userspace datapath cannot honour GBP or Learning.
    if (mode === 'userspace') this.inner = new UserspaceVxlanBackend(ctx, cfg);
  }

  async register(): Promise<Registration> {
    if (this.inner) {
      this.ctx.log.info(
        { datapath: 'userspace', reason: '--vxlan-datapath=userspace' },
        'vxlan datapath chosen',
      );
      return this.inner.register();
    }
    // Metrics the kernel backend registers go again if it is not the one that runs.
    const registry = this.ctx.metrics;
    const before = new Set(registry.getMetricsAsArray().map((m) => m.name));
    const kernel = createKernelVxlanBackend(this.ctx);
    try {
      const reg = await kernel.register();
      this.inner = kernel;
      this.ctx.log.info(
        {
          datapath: 'kernel',
          reason: this.mode === 'kernel' ? '--vxlan-datapath=kernel' : 'the kernel created the device',
        },
        'vxlan datapath chosen',
      );
      return reg;
    } catch (err) {
      await kernel.close();
      if (this.mode === 'kernel' || !creationRefused(err)) throw err;
      for (const m of registry.getMetricsAsArray())
        if (!before.has(m.name)) registry.removeSingleMetric(m.name);
      // GBP/Learning make this a one-line BAD_CONFIG error rather than a silent downgrade.
      const userspace = new UserspaceVxlanBackend(this.ctx, parseVxlanConfig(this.ctx.config.backend));
      this.ctx.log.warn(
        { datapath: 'userspace', reason: describeError(err) },
        'vxlan datapath chosen: the kernel cannot create the vxlan device, so overlayd carries VXLAN in userspace',
      );
      this.inner = userspace;
      return userspace.register();
    }
  }

  start(own: Lease): Promise<void> {
    return this.inner!.start(own);
  }
  applyPeerEvents(events: readonly LeaseEvent[]): Promise<void> {
    return this.inner!.applyPeerEvents(events);
  }
  reconcile(peers: readonly Lease[]): Promise<void> {
    return this.inner!.reconcile(peers);
  }
  async close(): Promise<void> {
    await this.inner?.close();
  }
}
