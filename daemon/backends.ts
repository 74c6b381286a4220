/** The backends the daemon can drive, listed explicitly (no registration by import side effect). */
import type { BackendFactory } from '../encap/backend.js';
import { createAllocBackend } from '../encap/alloc/alloc-backend.js';
import { createHostGwBackend } from '../encap/host-gw/host-gw-backend.js';
import { createUdpBackend } from '../encap/udp/udp-backend.js';
import { createVxlanBackend } from '../encap/vxlan/vxlan-datapath.js';
import type { BackendType } from '../subnet-lease/network-config.js';

export const BACKENDS: Partial<Record<BackendType, BackendFactory>> = {
  alloc: createAllocBackend,
  udp: createUdpBackend,
  vxlan: createVxlanBackend,
  'host-gw': createHostGwBackend,
};
