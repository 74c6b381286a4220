/**
 * flannel's "alloc" backend: it takes a lease and programs nothing. Useful when another component
 * owns the datapath, and it makes the daemon complete and testable without kernel access.
 */
import { applyOneByOne, type Backend, type BackendContext, type Registration } from '../backend.js';
import type { LeaseEvent } from '../../subnet-lease/lease-set.js';
import type { Lease } from '../../subnet-lease/lease.js';

export function createAllocBackend(ctx: BackendContext): Backend {
  const peers = new Map<string, Lease>();
  const key = (l: Lease): string => `${l.subnet.ip}/${l.subnet.prefixLen}`;
  const backend: Backend = {
    type: 'alloc',
    async register(): Promise<Registration> {
      return { backendType: 'alloc', mtu: ctx.extIface.mtu };
    },
    async start(): Promise<void> {},
    async addPeer(peer: Lease): Promise<void> {
      peers.set(key(peer), peer);
    },
    async removePeer(peer: Lease): Promise<void> {
      peers.delete(key(peer));
    },
    applyPeerEvents(events: readonly LeaseEvent[]): Promise<void> {
      return applyOneByOne(backend, events);
    },
    async reconcile(all: readonly Lease[]): Promise<void> {
      peers.clear();
      for (const p of all) peers.set(key(p), p);
    },
    async close(): Promise<void> {
      peers.clear();
    },
  };
  return backend;
}
