/**
 * The VXLAN wire (RFC 7348) as Linux's vxlan device sends it and flannel.<VNI> expects it:
 *
 *   UDP payload = VXLAN header (8)                    inner Ethernet (14)            inner IPv4
 *                 08 00 00 00 | VNI(3) 00             dst MAC | src MAC | 08 00
 *                 flags: I (VNI valid), nothing else  peer's VtepMAC, ours, IPv4
 *
 * The dual-stack device flannel-v6.<VNI> speaks the same wire over UDP/IPv6 with EtherType 86 DD
 * and inner IPv6 (RFC 8200), between the VtepMACs of BackendV6Data: one VxlanWire per device, each
 * with the EtherType it carries (a VXLAN device bridges one L2 segment; flannel gives each family
 * its own, so a v4 frame on the v6 device is as foreign as another VNI).
 *
 * Receive checks, as strict as the kernel's and then some (the kernel drops a frame with reserved
 * bits set or another VNI; it leaves a foreign destination MAC to the bridge/IP layer, which drops
 * it): reserved bits zero and the I flag set, our VNI, our VtepMAC as destination, the EtherType
 * of this device's family.
 * The outer UDP checksum is the socket's business: the kernel accepts zero (flannel's devices send
 * none) and verifies a non-zero one before the datagram reaches us.
 */
import { reasonIndex } from '../counters.js';
import type { PeerEntry } from '../peer-table.js';
import { WIRE_OK, type Wire } from './wire.js';

export const VXLAN_HEADER_LEN = 8;
export const ETHERNET_HEADER_LEN = 14;
export const VXLAN_WIRE_HEADER_LEN = VXLAN_HEADER_LEN + ETHERNET_HEADER_LEN;
const FLAG_I = 0x08;
export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_IPV6 = 0x86dd;

const TRUNCATED = reasonIndex('truncated');
const BAD_FLAGS = reasonIndex('bad_vxlan_flags');
const WRONG_VNI = reasonIndex('wrong_vni');
const FOREIGN_MAC = reasonIndex('foreign_mac');
const BAD_ETHERTYPE = reasonIndex('bad_ethertype');

/** A MAC as the two numbers the peer table holds: bytes 0-3 big-endian, bytes 4-5. */
export function macWords(mac: Uint8Array): { macHi: number; macLo: number } {
  if (mac.length !== 6) throw new RangeError(`a MAC has 6 bytes, got ${mac.length}`);
  return {
    macHi: ((mac[0]! << 24) | (mac[1]! << 16) | (mac[2]! << 8) | mac[3]!) >>> 0,
    macLo: (mac[4]! << 8) | mac[5]!,
  };
}

export class VxlanWire implements Wire {
  readonly headerLen = VXLAN_WIRE_HEADER_LEN;
  /** A VXLAN sender picks its UDP source port per flow: the PublicIP is the key. */
  readonly senderPortFixed = false;
  readonly innerChecksumMayBePartial = true;
  private readonly ownHi: number;
  private readonly ownLo: number;

  /**
   * `vni` is this network's VNI, `ownMac` our VtepMAC (6 bytes) on this device, `etherType` what
   * it carries: IPv4 (flannel.<VNI>) or IPv6 (flannel-v6.<VNI>).
   */
  constructor(
    readonly vni: number,
    readonly ownMac: Uint8Array,
    readonly etherType: typeof ETHERTYPE_IPV4 | typeof ETHERTYPE_IPV6 = ETHERTYPE_IPV4,
  ) {
    if (!Number.isInteger(vni) || vni < 0 || vni > 0xffffff) throw new RangeError(`VNI ${vni} is not 24-bit`);
    if (etherType !== ETHERTYPE_IPV4 && etherType !== ETHERTYPE_IPV6)
      throw new RangeError(
        `the VXLAN wire carries EtherType 0x0800 or 0x86dd, got 0x${Number(etherType).toString(16)}`,
      );
    const w = macWords(ownMac);
    this.ownHi = w.macHi;
    this.ownLo = w.macLo;
  }

  encapsulate(b: Uint8Array, at: number, peer: PeerEntry): void {
    const vni = this.vni;
    const hi = peer.macHi ?? 0;
    const lo = peer.macLo ?? 0;
    b[at] = FLAG_I;
    b[at + 1] = 0;
    b[at + 2] = 0;
    b[at + 3] = 0;
    b[at + 4] = vni >>> 16;
    b[at + 5] = (vni >>> 8) & 0xff;
    b[at + 6] = vni & 0xff;
    b[at + 7] = 0;
    const e = at + VXLAN_HEADER_LEN;
    b[e] = hi >>> 24;
    b[e + 1] = (hi >>> 16) & 0xff;
    b[e + 2] = (hi >>> 8) & 0xff;
    b[e + 3] = hi & 0xff;
    b[e + 4] = lo >>> 8;
    b[e + 5] = lo & 0xff;
    b[e + 6] = this.ownHi >>> 24;
    b[e + 7] = (this.ownHi >>> 16) & 0xff;
    b[e + 8] = (this.ownHi >>> 8) & 0xff;
    b[e + 9] = this.ownHi & 0xff;
    b[e + 10] = this.ownLo >>> 8;
    b[e + 11] = this.ownLo & 0xff;
    b[e + 12] = this.etherType >>> 8;
    b[e + 13] = this.etherType & 0xff;
  }

  decapsulate(b: Uint8Array, at: number, len: number): number {
    if (len < VXLAN_WIRE_HEADER_LEN) return TRUNCATED;
    // Like Linux: the first word is exactly the I flag, the VNI word's low byte is reserved.
    if (b[at] !== FLAG_I || b[at + 1] !== 0 || b[at + 2] !== 0 || b[at + 3] !== 0 || b[at + 7] !== 0)
      return BAD_FLAGS;
    if (((b[at + 4]! << 16) | (b[at + 5]! << 8) | b[at + 6]!) !== this.vni) return WRONG_VNI;
    const e = at + VXLAN_HEADER_LEN;
    const hi = ((b[e]! << 24) | (b[e + 1]! << 16) | (b[e + 2]! << 8) | b[e + 3]!) >>> 0;
    if (hi !== this.ownHi || ((b[e + 4]! << 8) | b[e + 5]!) !== this.ownLo) return FOREIGN_MAC;
    if (((b[e + 12]! << 8) | b[e + 13]!) !== this.etherType) return BAD_ETHERTYPE;
    return WIRE_OK;
  }
}
