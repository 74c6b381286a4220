/**
 * Wraps a worker's TunIo and UdpIo to tell a broken device or socket from a bad packet. The
 * engines count per-packet problems by reason and carry on; what this file looks for is the
 * other kind, where carrying on means spinning on an error forever:
 *   - a TUN read or write that fails with EBADFD: the device was deleted under its open queue;
 *   - a TUN read that keeps failing (limit calls in a row) with any other errno;
 *   - a UDP receive that keeps failing, or sends that keep failing with an errno that means the
 *     socket itself is unusable (EBADF, ENOTSOCK, …), not the path to one peer (ENETUNREACH, …).
 * Each raises a DatapathFault: the worker stops and tells the main thread, which repairs.
 * One failed call followed by a good one (a pending socket error, a signal) is not a fault.
 */
import { constants } from 'node:os';
import type { DatapathFailureReason } from '../backend.js';
import type { TunIo, UdpIo } from '../../sys/batch-io.js';

const E = constants.errno;
/** A TUN file whose device is gone answers EBADFD (Linux: tun_get() finds no device). */
const EBADFD = 77;
/** Send errnos that say the socket is broken; path errors (unreachable, EPERM, ENOBUFS) are not. */
const BROKEN_SOCKET = new Set<number>([
  E.EBADF,
  E.ENOTSOCK,
  E.EFAULT,
  E.EINVAL,
  E.EADDRNOTAVAIL,
  E.EPIPE,
  E.ENOTCONN,
  E.EDESTADDRREQ,
  E.EOPNOTSUPP,
]);
const NAMES = new Map<number, string>(Object.entries(E).map(([k, v]) => [v, k]));
const nameOf = (e: number): string => (e === EBADFD ? 'EBADFD' : (NAMES.get(e) ?? `errno ${e}`));

/** A device or socket the worker cannot go on with: the worker stops and reports it. */
export class DatapathFault extends Error {
  constructor(
    readonly reason: DatapathFailureReason,
    readonly detail: string,
  ) {
    super(detail);
    this.name = 'DatapathFault';
  }
}

/** errno of a native call's thrown error; undefined for a programmer error (a TypeError). */
function errnoOf(err: unknown): number | undefined {
  const n = (err as { errno?: unknown }).errno;
  return typeof n === 'number' ? n : undefined;
}

/** Consecutive failures of one kind of call; any success resets it. */
class Streak {
  private n = 0;
  constructor(private readonly limit: number) {}
  fail(): boolean {
    return ++this.n >= this.limit;
  }
  reset(): void {
    this.n = 0;
  }
}

export interface WatchedIo {
  readonly tun: TunIo;
  readonly udp: UdpIo;
}

/** `limit`: failed calls in a row that make an error persistent. */
export function watchIo(tun: TunIo, udp: UdpIo, tunName: string, limit = 5): WatchedIo {
  const tunReads = new Streak(limit);
  const recvs = new Streak(limit);
  const sends = new Streak(limit);
  /** A send's result: a broken socket's errno, limit times in a row, is a fault. */
  const sent = (r: number): number => {
    if (r >= 0) sends.reset();
    else if (BROKEN_SOCKET.has(-r) && sends.fail())
      throw new DatapathFault('socket_error', `UDP socket sends keep failing (${nameOf(-r)})`);
    return r;
  };
  const tunGone = (op: string): DatapathFault =>
    new DatapathFault('tun_deleted', `TUN ${tunName} deleted (${op}: EBADFD)`);
  return {
    tun: {
      read(slab, offs, lens, count, cap, timeoutMs) {
        try {
          const n = tun.read(slab, offs, lens, count, cap, timeoutMs);
          tunReads.reset();
          return n;
        } catch (err) {
          const errno = errnoOf(err);
          if (errno === undefined) throw err;
          if (errno === EBADFD) throw tunGone('read');
          if (tunReads.fail())
            throw new DatapathFault('tun_error', `TUN ${tunName} reads keep failing (${nameOf(errno)})`);
          return 0;
        }
      },
      write(slab, offs, lens, count, errs) {
        const before = errs[0]!;
        const n = tun.write(slab, offs, lens, count, errs);
        if (errs[0]! > before && errs[1] === EBADFD) throw tunGone('write');
        return n;
      },
      writev(slab, iovs, count, errs) {
        const before = errs[0]!;
        const n = tun.writev(slab, iovs, count, errs);
        if (errs[0]! > before && errs[1] === EBADFD) throw tunGone('write');
        return n;
      },
    },
    udp: {
      recv(slab, offs, lens, count, cap, addrs, ports, gso, timeoutMs) {
        try {
          const n = udp.recv(slab, offs, lens, count, cap, addrs, ports, gso, timeoutMs);
          recvs.reset();
          return n;
        } catch (err) {
          const errno = errnoOf(err);
          if (errno === undefined) throw err;
          if (recvs.fail())
            throw new DatapathFault('socket_error', `UDP socket receives keep failing (${nameOf(errno)})`);
          return 0;
        }
      },
      send(slab, offs, lens, start, count, addrs, ports, gso) {
        return sent(udp.send(slab, offs, lens, start, count, addrs, ports, gso));
      },
      sendv(slab, iovs, start, count, addrs, ports, gso) {
        return sent(udp.sendv(slab, iovs, start, count, addrs, ports, gso));
      },
    },
  };
}
