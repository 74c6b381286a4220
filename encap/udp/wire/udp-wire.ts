/**
 * flannel's udp wire: the UDP payload is the raw inner IPv4 packet, nothing in front. Peers send
 * from the port they listen on (8285 unless Backend.Port), so the sender's port is part of the key.
 */
import { WIRE_OK, type Wire } from './wire.js';

export const UDP_WIRE: Wire = {
  headerLen: 0,
  senderPortFixed: true,
  innerChecksumMayBePartial: false, // every sender is a userspace engine that completes them
  encapsulate: () => undefined,
  decapsulate: () => WIRE_OK,
};
