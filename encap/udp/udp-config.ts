/** The udp backend's options in the network config's Backend object (keys already lowercased). */
import { OverlaydError } from '../../daemon/errors.js';

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
