/**
 * What an underlay capture between two WireGuard nodes may hold: every frame a UDP datagram
 * between their WireGuard ports carrying one well-formed WireGuard message, and no 8-byte run of
 * a known inner payload anywhere in any frame. Returns the findings for the test to assert on.
 */
import type { PcapFile } from './pcap.js';
import { udpOf } from './pcap.js';
import { findAnyRun, wireguardMessageType } from './wireguard-message-check.js';

export interface UnderlayFindings {
  /** Frames that are not a WireGuard message between the two endpoints, described. */
  readonly strays: string[];
  /** Frames holding a run of the known payload (their index). */
  readonly leaks: number[];
  /** WireGuard messages by type, and transport data sizes by direction ("a>b" / "b>a"). */
  readonly byType: Record<number, number>;
  readonly transportSizes: Record<string, Map<number, number>>;
}

export function checkUnderlay(
  cap: PcapFile,
  a: { ip: string; port: number },
  b: { ip: string; port: number },
  knownPayload: Uint8Array,
): UnderlayFindings {
  const strays: string[] = [];
  const leaks: number[] = [];
  const byType: Record<number, number> = {};
  const transportSizes: Record<string, Map<number, number>> = { 'a>b': new Map(), 'b>a': new Map() };
  cap.frames.forEach((frame, i) => {
    if (findAnyRun(frame, knownPayload) >= 0) leaks.push(i);
    const d = udpOf(frame, cap.linkType);
    if ('other' in d) return strays.push(`frame ${i}: ${d.other}`);
    const dir =
      d.src === a.ip && d.srcPort === a.port && d.dst === b.ip && d.dstPort === b.port
        ? 'a>b'
        : d.src === b.ip && d.srcPort === b.port && d.dst === a.ip && d.dstPort === a.port
          ? 'b>a'
          : undefined;
    if (!dir) return strays.push(`frame ${i}: UDP ${d.src}:${d.srcPort} → ${d.dst}:${d.dstPort}`);
    const t = wireguardMessageType(d.payload);
    if ('problem' in t) return strays.push(`frame ${i} (${dir}): ${t.problem}`);
    byType[t.type] = (byType[t.type] ?? 0) + 1;
    if (t.type === 4) {
      const m = transportSizes[dir]!;
      m.set(d.payload.length, (m.get(d.payload.length) ?? 0) + 1);
    }
    return undefined;
  });
  return { strays, leaks, byType, transportSizes };
}

/** The transport message size that carries an inner packet of `innerLen` bytes (paper §5.4.6; padding capped at the MTU). */
export const transportSizeFor = (innerLen: number, mtu = 1420): number =>
  32 + Math.min(Math.ceil(innerLen / 16) * 16, mtu);
