/** The backends the daemon can drive, listed explicitly (no registration by import side effect). */
import type { BackendFactory } from '../encap/backend.js';
import { createAllocBackend } from '../encap/alloc/alloc-backend.js';
import { createUdpBackend } from '../encap/udp/udp-backend.js';
import type { BackendType } from '../subnet-lease/network-config.js';

export const BACKENDS: Partial<Record<BackendType, BackendFactory>> = {
  alloc: createAllocBackend,
  udp: createUdpBackend,
};
