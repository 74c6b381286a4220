/**
 * The WireGuard wire as a datapath worker builds it: its data plane (wg-dataplane.ts) with the
 * batch AEAD against node's OpenSSL (sys/wg-aead.ts), the replay window and the control plane of
 * protocol/ (wg-control.ts adapts it), all in this one worker thread: the private key arrives in
 * workerData once and never leaves it.
 */
import type { UdpIo } from '../../sys/batch-io.js';
import { openBatch, sealBatch } from '../../sys/wg-aead.js';
import { ReplayWindow } from '../wireguard/protocol/replay-window.js';
import { WG_TIMERS, type WgTimerConstants } from '../wireguard/protocol/peer-timers.js';
import type { SharedPeerTable } from './peer-table.js';
import type { EngineOptions } from './tx-engine.js';
import { createControlPort } from './wg-control.js';
import { WgDataplane } from './wg-dataplane.js';
import { WireguardWire } from './wire/wireguard-wire.js';
import type { WireguardWireSpec } from './wire/wire-spec.js';

/** OVERLAYD_TEST_WG_TIMERS' seconds (encap/wireguard/test-timers.ts checked them) over the paper's constants. */
export function timerConstants(overrides: Readonly<Record<string, number>> | undefined): WgTimerConstants {
  const t: WgTimerConstants = { ...WG_TIMERS };
  for (const [k, s] of Object.entries(overrides ?? {})) {
    const key = `${k}Ms` as keyof WgTimerConstants;
    if (key in t) t[key] = Math.round(s * 1000);
  }
  return t;
}

export function startWireguard(
  spec: WireguardWireSpec,
  options: EngineOptions,
  table: SharedPeerTable,
  udp: UdpIo,
  counters: Float64Array,
  openCapacity: number,
): { wire: WireguardWire; dataplane: WgDataplane } {
  const timers = timerConstants(spec.timers);
  let dataplane: WgDataplane | undefined;
  const control = createControlPort({
    privateKey: Uint8Array.from(spec.privateKey),
    ...(spec.presharedKey ? { presharedKey: Uint8Array.from(spec.presharedKey) } : {}),
    persistentKeepaliveS: spec.persistentKeepalive,
    timers,
    underLoad: () => dataplane?.underLoad() ?? false,
  });
  dataplane = new WgDataplane(
    {
      mtu: options.maxPacket,
      rejectAfterMs: timers.rejectAfterTimeMs,
      now: Date.now,
      newWindow: () => new ReplayWindow(),
      ...(options.family === 6 ? { family: 6 as const } : {}),
    },
    table,
    control,
    { sealBatch, openBatch },
    udp,
    counters,
    openCapacity,
  );
  return { wire: new WireguardWire(dataplane), dataplane };
}
