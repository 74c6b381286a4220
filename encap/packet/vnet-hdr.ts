/**
 * struct virtio_net_hdr (10 bytes, little-endian on x86), which a TUN opened with IFF_VNET_HDR puts
 * in front of every packet: it says whether the packet is a TSO "super-packet" (gso_type, gso_size)
 * and whether its L4 checksum is still to be completed (NEEDS_CSUM, csum_start, csum_offset).
 */

export const VNET_HDR_LEN = 10;
export const VNET_F_NEEDS_CSUM = 1;
export const VNET_F_DATA_VALID = 2;
export const GSO_NONE = 0;
export const GSO_TCPV4 = 1;
export const GSO_UDP = 3;
export const GSO_TCPV6 = 4;
export const GSO_UDP_L4 = 5;
export const GSO_ECN = 0x80;

export interface VnetHdr {
  flags: number;
  gsoType: number;
  hdrLen: number;
  gsoSize: number;
  csumStart: number;
  csumOffset: number;
}

const le16 = (b: Uint8Array, o: number): number => b[o]! | (b[o + 1]! << 8);
const putLe16 = (b: Uint8Array, o: number, v: number): void => {
  b[o] = v & 0xff;
  b[o + 1] = (v >>> 8) & 0xff;
};

/** Decodes into `into` (reused by the caller: no allocation per packet). */
export function readVnetHdr(buf: Uint8Array, off: number, into: VnetHdr): VnetHdr {
  into.flags = buf[off]!;
  into.gsoType = buf[off + 1]!;
  into.hdrLen = le16(buf, off + 2);
  into.gsoSize = le16(buf, off + 4);
  into.csumStart = le16(buf, off + 6);
  into.csumOffset = le16(buf, off + 8);
  return into;
}

export function writeVnetHdr(buf: Uint8Array, off: number, h: VnetHdr): void {
  buf[off] = h.flags;
  buf[off + 1] = h.gsoType;
  putLe16(buf, off + 2, h.hdrLen);
  putLe16(buf, off + 4, h.gsoSize);
  putLe16(buf, off + 6, h.csumStart);
  putLe16(buf, off + 8, h.csumOffset);
}

/** A header that says "plain packet, checksum complete". */
export function writeEmptyVnetHdr(buf: Uint8Array, off: number): void {
  // Ten stores, not fill(): fill is a call into the runtime, and this runs per packet.
  for (let i = 0; i < VNET_HDR_LEN; i++) buf[off + i] = 0;
}

export function newVnetHdr(): VnetHdr {
  return { flags: 0, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0 };
}
