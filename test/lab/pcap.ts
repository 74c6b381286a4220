/**
 * Reading what tcpdump wrote (`-w`, classic pcap, Ethernet link type): the frames, and the IPv4/UDP
 * datagrams among them. Pure: the underlay-capture tests run tcpdump and hand the file here.
 */

export interface PcapFile {
  readonly linkType: number;
  readonly frames: readonly Uint8Array[];
}

export interface UdpDatagram {
  readonly src: string;
  readonly srcPort: number;
  readonly dst: string;
  readonly dstPort: number;
  readonly payload: Uint8Array;
}

const LINKTYPE_ETHERNET = 1;

/** Splits a classic pcap file into its frames (either byte order, µs or ns timestamps). */
export function parsePcap(buf: Uint8Array): PcapFile {
  if (buf.length < 24) throw new Error(`pcap: ${buf.length} bytes, shorter than the 24-byte file header`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const magic = dv.getUint32(0, true);
  let le: boolean;
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) le = true;
  else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) le = false;
  else
    throw new Error(
      `pcap: magic 0x${magic.toString(16)} is not a classic pcap file (pcapng? use tcpdump -w)`,
    );
  const linkType = dv.getUint32(20, le);
  const frames: Uint8Array[] = [];
  let off = 24;
  while (off < buf.length) {
    if (off + 16 > buf.length) throw new Error(`pcap: record header cut at byte ${off}`);
    const inclLen = dv.getUint32(off + 8, le);
    const start = off + 16;
    // tcpdump -U flushes whole records, but a capture stopped mid-write may end in a partial one.
    if (start + inclLen > buf.length) break;
    frames.push(buf.subarray(start, start + inclLen));
    off = start + inclLen;
  }
  return { linkType, frames };
}

const ip4 = (b: Uint8Array, o: number): string => `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;

/**
 * An Ethernet frame's IPv4/UDP datagram, or a one-line description of what else it is (so a test
 * can say which frame was not the kind it expected). Fragments are "other": WireGuard never sends any.
 */
export function udpOf(frame: Uint8Array, linkType = LINKTYPE_ETHERNET): UdpDatagram | { other: string } {
  if (linkType !== LINKTYPE_ETHERNET) return { other: `link type ${linkType}` };
  if (frame.length < 14) return { other: `runt frame of ${frame.length} bytes` };
  const ethertype = (frame[12]! << 8) | frame[13]!;
  if (ethertype !== 0x0800) return { other: `ethertype 0x${ethertype.toString(16).padStart(4, '0')}` };
  const ip = 14;
  if (frame.length < ip + 20 || frame[ip]! >> 4 !== 4) return { other: 'malformed IPv4 header' };
  const ihl = (frame[ip]! & 15) * 4;
  const totalLen = (frame[ip + 2]! << 8) | frame[ip + 3]!;
  const proto = frame[ip + 9]!;
  const src = ip4(frame, ip + 12);
  const dst = ip4(frame, ip + 16);
  const frag = ((frame[ip + 6]! << 8) | frame[ip + 7]!) & 0x3fff;
  if (proto !== 17) return { other: `IPv4 protocol ${proto} ${src} → ${dst}` };
  if (frag !== 0) return { other: `IPv4 fragment ${src} → ${dst}` };
  const udp = ip + ihl;
  if (totalLen > frame.length - ip || udp + 8 > ip + totalLen) return { other: 'IPv4 datagram cut short' };
  const udpLen = (frame[udp + 4]! << 8) | frame[udp + 5]!;
  if (udpLen < 8 || udp + udpLen > ip + totalLen) return { other: `bad UDP length ${udpLen}` };
  return {
    src,
    srcPort: (frame[udp]! << 8) | frame[udp + 1]!,
    dst,
    dstPort: (frame[udp + 2]! << 8) | frame[udp + 3]!,
    payload: frame.subarray(udp + 8, udp + udpLen),
  };
}
