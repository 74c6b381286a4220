/** The vxlan backend's options, flannel's keys (any case): VNI, Port, GBP, Learning, DirectRouting, MTU. */
import { OverlaydError } from '../core/errors.js';

export interface VxlanConfig {
  readonly vni: number;
  /** 0 = the kernel's default (8472, Linux's historic VXLAN port). */
  readonly port: number;
  readonly gbp: boolean;
  readonly learning: boolean;
  readonly directRouting: boolean;
  /** Base MTU (external interface MTU when unset); the device gets MTU − 50. */
  readonly mtu?: number;
}

export const LINUX_VXLAN_PORT = 8472;
/** Outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14). */
export const VXLAN_OVERHEAD = 50;
/** Outer IPv6 (40) + UDP (8) + VXLAN (8) + inner Ethernet (14): the IPv6 device's cut (flanneld takes 50). */
export const VXLAN6_OVERHEAD = 70;

function int(v: unknown, field: string, min: number, max: number, dflt: number): number {
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new OverlaydError(
      'BAD_CONFIG',
      `network config: Backend.${field} ${JSON.stringify(v)} is invalid; use a whole number from ${min} to ${max}`,
    );
  }
  return v;
}

function bool(v: unknown, field: string): boolean {
  if (v === undefined || v === null) return false;
  if (typeof v !== 'boolean')
    throw new OverlaydError(
      'BAD_CONFIG',
      `network config: Backend.${field} ${JSON.stringify(v)} is invalid; use true or false`,
    );
  return v;
}

export function parseVxlanConfig(b: Readonly<Record<string, unknown>>): VxlanConfig {
  const cfg: { -readonly [K in keyof VxlanConfig]: VxlanConfig[K] } = {
    vni: int(b['vni'], 'VNI', 0, 16777215, 1),
    port: int(b['port'], 'Port', 0, 65535, 0),
    gbp: bool(b['gbp'], 'GBP'),
    learning: bool(b['learning'], 'Learning'),
    directRouting: bool(b['directrouting'], 'DirectRouting'),
  };
  if (b['mtu'] !== undefined && b['mtu'] !== null && b['mtu'] !== 0)
    cfg.mtu = int(b['mtu'], 'MTU', 68 + 50, 65535, 0);
  return cfg;
}

/** BackendData of a vxlan lease: {"VNI":n,"VtepMAC":"…"}; undefined when unusable. */
export function parseVtep(data: unknown): { vni: number; mac: string } | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const lower: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(data)) lower[k.toLowerCase()] = v;
  const mac = lower['vtepmac'];
  const vni = lower['vni'];
  if (typeof mac !== 'string' || !/^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$/.test(mac)) return undefined;
  return { vni: typeof vni === 'number' ? vni : 1, mac: mac.toLowerCase() };
}

/** A random locally administered unicast MAC, as flannel's pkg/mac. */
export function randomVtepMac(random: () => number = Math.random): string {
  const b = Array.from({ length: 6 }, () => Math.floor(random() * 256));
  b[0] = (b[0]! & 0xfe) | 0x02;
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}
