/**
 * A wire format as plain data, so it can cross into a datapath worker (workerData is cloned, a
 * Wire's methods are not), and the Wire each worker builds from it.
 */
import { UDP_WIRE } from './udp-wire.js';
import { ETHERTYPE_IPV4, ETHERTYPE_IPV6, VxlanWire } from './vxlan-wire.js';
import type { Wire } from './wire.js';

export type WireSpec =
  | { readonly kind: 'udp' }
  | {
      readonly kind: 'vxlan';
      readonly vni: number;
      readonly vtepMac: readonly number[];
      /** The inner family: IPv4 (flannel.<VNI>, default) or IPv6 (flannel-v6.<VNI>: EtherType 86DD). */
      readonly inner?: 4 | 6;
    }
  | WireguardWireSpec;

/**
 * The WireGuard interface's settings. The private key reaches the one datapath worker here, once
 * at start (workerData is a structured clone): the worker's control plane is its only user.
 */
export interface WireguardWireSpec {
  readonly kind: 'wireguard';
  readonly privateKey: readonly number[];
  /** flannel's PSK: one preshared key for every peer; absent = none (zeros). */
  readonly presharedKey?: readonly number[];
  /** Seconds, 0 = off (PersistentKeepaliveInterval). */
  readonly persistentKeepalive: number;
  /** Test-only timer overrides in seconds (OVERLAYD_TEST_WG_TIMERS). */
  readonly timers?: Readonly<Record<string, number>>;
}

/** The wire of a spec; the WireGuard wire is built by the worker with its data plane (wg-worker.ts). */
export function wireOf(spec: WireSpec | undefined): Wire {
  if (!spec || spec.kind === 'udp') return UDP_WIRE;
  if (spec.kind === 'wireguard') throw new Error('the WireGuard wire needs its data plane: see wg-worker.ts');
  return new VxlanWire(
    spec.vni,
    Uint8Array.from(spec.vtepMac),
    spec.inner === 6 ? ETHERTYPE_IPV6 : ETHERTYPE_IPV4,
  );
}
