/**
 * A rtnetlink socket: requests are sent many per sendmsg (one datagram holds up to ~256 KiB of
 * messages) and their ACKs matched by sequence number; dumps collect multipart replies. Calls are
 * synchronous: each round trip is microseconds, and the event loop is not needed for them.
 */
import { constants } from 'node:os';
import { OverlaydError } from '../../core/errors.js';
import { nativeSys } from '../native.js';
import {
  encodeRequest,
  errorOf,
  isDone,
  isError,
  parseMessages,
  type Message,
  type Request,
} from './codec.js';
import { NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST } from './constants.js';

const ERRNO_NAMES = new Map<number, string>(Object.entries(constants.errno).map(([k, v]) => [v, k]));
export const errnoName = (e: number): string => ERRNO_NAMES.get(e) ?? `errno ${e}`;

const SEND_CHUNK = 128 * 1024;
const RECV_TIMEOUT_MS = 5000;

export class NetlinkError extends OverlaydError {
  constructor(
    readonly op: string,
    readonly errno: number,
    cause?: unknown,
  ) {
    super('NETLINK', `netlink ${op}: ${errnoName(errno)}`, { cause });
  }
}

export class RtNetlink {
  private readonly fd: number;
  private seq = Math.floor(Math.random() * 1e9);
  private readonly rx = new Uint8Array(1 << 20);
  private closed = false;

  constructor(groups = 0) {
    this.fd = nativeSys().nlOpen(groups);
  }

  get fileDescriptor(): number {
    return this.fd;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    nativeSys().close(this.fd);
  }

  /**
   * Sends every request (each with NLM_F_ACK) and returns their errnos in order (0 = done).
   * Many requests travel in one sendmsg, so thousands of peers converge in a few syscalls.
   */
  batch(requests: readonly Request[]): number[] {
    const sys = nativeSys();
    const results = new Array<number>(requests.length).fill(-1);
    const seqBase = this.seq;
    this.seq += requests.length + 1;
    let i = 0;
    while (i < requests.length) {
      const parts: Uint8Array[] = [];
      let size = 0;
      const start = i;
      while (i < requests.length && size < SEND_CHUNK) {
        const r = requests[i]!;
        const m = encodeRequest({ ...r, flags: r.flags | NLM_F_REQUEST | NLM_F_ACK }, seqBase + i);
        parts.push(m);
        size += m.length;
        i++;
      }
      const buf = new Uint8Array(size);
      let p = 0;
      for (const m of parts) {
        buf.set(m, p);
        p += m.length;
      }
      this.send('batch', buf, size);
      let pending = i - start;
      while (pending > 0) {
        const n = sys.nlRecv(this.fd, this.rx, RECV_TIMEOUT_MS);
        if (n === 0)
          throw new OverlaydError(
            'NETLINK',
            `netlink: no answer to ${pending} requests within ${RECV_TIMEOUT_MS} ms`,
          );
        for (const msg of parseMessages(this.rx, n)) {
          const idx = msg.seq - seqBase;
          if (!isError(msg) || idx < start || idx >= i || results[idx] !== -1) continue;
          results[idx] = errorOf(msg);
          pending--;
        }
      }
    }
    return results;
  }

  /** One request; throws NetlinkError with the errno unless it is listed in `ok`. */
  request(op: string, req: Request, ok: readonly number[] = []): number {
    const e = this.batch([req])[0]!;
    if (e !== 0 && !ok.includes(e)) throw new NetlinkError(op, e);
    return e;
  }

  /** A dump (NLM_F_DUMP): every message of the reply, in order. */
  dump(op: string, req: Request): Message[] {
    // Copy: the receive buffer is reused by the next recv.
    return this.dumpParsed(op, req, (msg) => ({ ...msg, body: msg.body.slice() }));
  }

  /**
   * A dump whose messages are handed to `parse` as they arrive, their bodies still views into the
   * receive buffer (valid only during the call); keeps what `parse` returns. A dump of thousands
   * of routes or neighbours then leaves a few small objects behind, not a copy of every message:
   * the periodic reconcile runs this every 10 s, and each run's copies were garbage.
   */
  dumpParsed<T>(op: string, req: Request, parse: (msg: Message) => T | undefined): T[] {
    const sys = nativeSys();
    const seq = this.seq++;
    const m = encodeRequest({ ...req, flags: req.flags | NLM_F_REQUEST | NLM_F_DUMP }, seq);
    this.send(op, m, m.length);
    const out: T[] = [];
    for (;;) {
      const n = sys.nlRecv(this.fd, this.rx, RECV_TIMEOUT_MS);
      if (n === 0) throw new OverlaydError('NETLINK', `netlink ${op}: dump timed out`);
      for (const msg of parseMessages(this.rx, n)) {
        if (msg.seq !== seq) continue;
        if (isDone(msg)) return out;
        if (isError(msg)) {
          const e = errorOf(msg);
          if (e !== 0) throw new NetlinkError(op, e);
          return out;
        }
        const v = parse(msg);
        if (v !== undefined) out.push(v);
      }
    }
  }

  /**
   * Sends one datagram. A send the kernel refuses, or one still blocked when the addon's deadline
   * passes (ETIMEDOUT), becomes a NetlinkError like any refused request, so callers handle both alike.
   */
  private send(op: string, buf: Uint8Array, len: number): void {
    try {
      nativeSys().nlSend(this.fd, buf, len);
    } catch (err) {
      const errno = (err as { errno?: unknown }).errno;
      if (typeof errno !== 'number') throw err; // a TypeError/RangeError: a bug of ours
      throw new NetlinkError(`${op} send`, errno, err);
    }
  }

  /** A get (no dump): the one reply message, or throws NetlinkError. */
  get(op: string, req: Request): Message {
    const sys = nativeSys();
    const seq = this.seq++;
    const m = encodeRequest({ ...req, flags: req.flags | NLM_F_REQUEST }, seq);
    this.send(op, m, m.length);
    for (;;) {
      const n = sys.nlRecv(this.fd, this.rx, RECV_TIMEOUT_MS);
      if (n === 0) throw new OverlaydError('NETLINK', `netlink ${op}: no answer`);
      for (const msg of parseMessages(this.rx, n)) {
        if (msg.seq !== seq) continue;
        if (isError(msg)) throw new NetlinkError(op, errorOf(msg) || 22);
        return { ...msg, body: msg.body.slice() };
      }
    }
  }
}
