/**
 * A wire format as plain data, so it can cross into a datapath worker (workerData is cloned, a
 * Wire's methods are not), and the Wire each worker builds from it.
 */
import { UDP_WIRE } from './udp-wire.js';
import { VxlanWire } from './vxlan-wire.js';
import type { Wire } from './wire.js';

export type WireSpec =
  | { readonly kind: 'udp' }
  | { readonly kind: 'vxlan'; readonly vni: number; readonly vtepMac: readonly number[] };

export function wireOf(spec: WireSpec | undefined): Wire {
  if (!spec || spec.kind === 'udp') return UDP_WIRE;
  return new VxlanWire(spec.vni, Uint8Array.from(spec.vtepMac));
}
