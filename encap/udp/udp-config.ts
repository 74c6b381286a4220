/** The udp backend's options in the network config's Backend object (keys already lowercased). */
import { OverlaydError } from '../../core/errors.js';

export const DEFAULT_UDP_PORT = 8285;

export interface UdpBackendConfig {
  readonly port: number;
}

export function parseUdpBackendConfig(backend: Readonly<Record<string, unknown>>): UdpBackendConfig {
  const port = backend['port'] ?? DEFAULT_UDP_PORT;
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new OverlaydError(
      'BAD_CONFIG',
      `network config: Backend.Port ${JSON.stringify(port)} is not a UDP port; use a whole number from 1 to 65535 (default 8285)`,
    );
  }
  return { port };
}

/**
 * V8's tier-up budget for the datapath (see udp-datapath.ts): JIT_INTERRUPT_BUDGET unless the
 * OVERLAYD_JIT_BUDGET environment variable (for A/B runs) holds a positive whole number. A bad
 * value is reported, not fatal: it only tunes when V8 optimizes.
 */
export function jitBudgetFrom(
  env: Readonly<Record<string, string | undefined>>,
  dflt: number,
): { budget: number; problem?: string } {
  const raw = env['OVERLAYD_JIT_BUDGET'];
  if (raw === undefined || raw === '') return { budget: dflt };
  const n = Number(raw);
  if (Number.isInteger(n) && n > 0) return { budget: n };
  return {
    budget: dflt,
    problem: `OVERLAYD_JIT_BUDGET=${JSON.stringify(raw)} is not a positive whole number; using ${dflt} (V8's own default is 67584)`,
  };
}
