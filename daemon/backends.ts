/**
 * The backends the daemon can drive, listed explicitly (no registration by import side effect).
 * Each is loaded only when the network config chooses it: start-up then parses one backend's
 * modules, not all four (the udp datapath alone is a few dozen ms of module loading on a busy node).
 */
import type { BackendFactory } from '../encap/backend.js';
import type { BackendType } from '../core/network.js';

export const BACKENDS: Partial<Record<BackendType, () => Promise<BackendFactory>>> = {
  alloc: async () => (await import('../encap/alloc/alloc-backend.js')).createAllocBackend,
  udp: async () => (await import('../encap/udp/udp-backend.js')).createUdpBackend,
  vxlan: async () => (await import('./vxlan-datapath.js')).createVxlanBackend,
  'host-gw': async () => (await import('../encap/host-gw/host-gw-backend.js')).createHostGwBackend,
  wireguard: async () => (await import('../encap/wireguard/wireguard-backend.js')).createWireguardBackend,
};
