/**
 * The wireguard backend's options, flannel's keys in any case (the network config parser
 * lowercases them): ListenPort (51820), ListenPortV6 (51821), PSK (base64, optional),
 * PersistentKeepaliveInterval (seconds, 0 = off), MTU (the base MTU, default the external
 * interface's; the device gets base − 80), Mode (separate | auto | ipv4 | ipv6, default separate).
 * Bad input is one line naming the field and the fix.
 */
import { OverlaydError } from '../../core/errors.js';

export const DEFAULT_WG_PORT = 51820;
export const DEFAULT_WG_PORT_V6 = 51821;
/** Outer IPv6 (40, flannel sizes for the larger header) + UDP (8) + WireGuard header (16) + tag (16). */
export const WG_OVERHEAD = 80;
export const WG_MODES = ['separate', 'auto', 'ipv4', 'ipv6'] as const;
export type WgMode = (typeof WG_MODES)[number];

export interface WireguardConfig {
  readonly listenPort: number;
  readonly listenPortV6: number;
  /** 32 bytes, or undefined (no preshared key: all zeros in the handshake). */
  readonly psk?: Uint8Array;
  /** Seconds; 0 = off. */
  readonly persistentKeepaliveInterval: number;
  /** Base MTU; undefined = the external interface's. */
  readonly mtu?: number;
  readonly mode: WgMode;
}

const bad = (field: string, v: unknown, fix: string): OverlaydError =>
  new OverlaydError('BAD_CONFIG', `network config: Backend.${field} ${JSON.stringify(v)} is invalid; ${fix}`);

function int(v: unknown, field: string, min: number, max: number, dflt: number): number {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
    throw bad(field, v, `use a whole number from ${min} to ${max}`);
  return v;
}

/** A WireGuard key in base64 (44 characters, 32 bytes), as `wg genpsk` prints it. */
export function parseBase64Key(s: string): Uint8Array | undefined {
  const t = s.trim();
  if (!/^[A-Za-z0-9+/]{43}=$/.test(t)) return undefined;
  const b = Buffer.from(t, 'base64');
  return b.length === 32 ? new Uint8Array(b) : undefined;
}

export function parseWireguardConfig(b: Readonly<Record<string, unknown>>): WireguardConfig {
  const listenPort = int(b['listenport'], 'ListenPort', 1, 65535, DEFAULT_WG_PORT);
  const listenPortV6 = int(b['listenportv6'], 'ListenPortV6', 1, 65535, DEFAULT_WG_PORT_V6);
  const persistentKeepaliveInterval = int(
    b['persistentkeepaliveinterval'],
    'PersistentKeepaliveInterval',
    0,
    65535,
    0,
  );
  const modeRaw = b['mode'];
  let mode: WgMode = 'separate';
  if (modeRaw !== undefined && modeRaw !== null && modeRaw !== '') {
    const m = typeof modeRaw === 'string' ? modeRaw.toLowerCase() : undefined;
    if (!m || !(WG_MODES as readonly string[]).includes(m))
      throw bad('Mode', modeRaw, `use one of ${WG_MODES.join(', ')}`);
    mode = m as WgMode;
  }
  const cfg: { -readonly [K in keyof WireguardConfig]: WireguardConfig[K] } = {
    listenPort,
    listenPortV6,
    persistentKeepaliveInterval,
    mode,
  };
  const psk = b['psk'];
  if (psk !== undefined && psk !== null && psk !== '') {
    const k = typeof psk === 'string' ? parseBase64Key(psk) : undefined;
    // The value is a secret: never echoed back.
    if (!k)
      throw new OverlaydError(
        'BAD_CONFIG',
        'network config: Backend.PSK is not a base64 WireGuard key (32 bytes, 44 characters); generate one with `wg genpsk`',
      );
    cfg.psk = k;
  }
  if (b['mtu'] !== undefined && b['mtu'] !== null && b['mtu'] !== 0)
    cfg.mtu = int(b['mtu'], 'MTU', 576 + WG_OVERHEAD, 65535, 0);
  return cfg;
}
