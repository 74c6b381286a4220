/**
 * flannel's "alloc" backend: it takes a lease and programs nothing. Useful when another component
 * owns the datapath, and it makes the daemon complete and testable without kernel access.
 */
import type { Backend, BackendContext, Registration } from '../backend.js';

export function createAllocBackend(ctx: BackendContext): Backend {
  return {
    type: 'alloc',
    async register(): Promise<Registration> {
      return { backendType: 'alloc', mtu: ctx.extIface.mtu };
    },
    async start(): Promise<void> {},
    // Peers come and go; alloc has nothing to program for them.
    async applyPeerEvents(): Promise<void> {},
    async reconcile(): Promise<void> {},
    async close(): Promise<void> {},
  };
}
