/**
 * The addon's other calls (poll, close, checksum, socket set-up, steering, netlink, sd_notify) with
 * hostile arguments: each must throw a TypeError or RangeError naming the function and the
 * argument, or the errno error its contract documents, and never open anything on a bad one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BAD_BOOLS,
  BAD_INTS,
  BAD_TIMEOUTS,
  BAD_U32,
  CLOSED_FD,
  LOOPBACK,
  NOT_I32,
  NOT_U8,
  checksInt,
  closeFds,
  errnoOf,
  fds,
  i32,
  openFds,
  rejects,
  sys,
} from '../test/support/native-hostile.js';

beforeAll(openFds);
afterAll(closeFds);

describe('waitReadable, close, csum', () => {
  it('waitReadable rejects bad fds and timeouts (a negative one would block forever)', () => {
    checksInt('waitReadable', [fds.udp, fds.nl, 0], 0);
    checksInt('waitReadable', [fds.udp, fds.nl, 0], 1);
    checksInt('waitReadable', [fds.udp, fds.nl, 0], 2, [-1, ...BAD_TIMEOUTS]);
    expect(sys.waitReadable(CLOSED_FD, fds.nl, 0)).toBe(1); // POLLNVAL: readable, the read then says EBADF
  });

  it('close rejects bad fds and reports a closed one as EBADF', () => {
    checksInt('close', [CLOSED_FD], 0);
    expect(errnoOf(() => sys.close(CLOSED_FD))).toBe('EBADF');
  });

  it('csum rejects ranges outside the buffer and sums at odd offsets', () => {
    const buf = Uint8Array.from([0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11]);
    checksInt('csum', [buf, 0, 2, 0], 1);
    checksInt('csum', [buf, 0, 2, 0], 2);
    checksInt('csum', [buf, 0, 2, 0], 3, BAD_U32);
    rejects('csum', [buf, 0, 2, 0], 0, NOT_U8, 'TypeError');
    for (const [off, len] of [
      [11, 0],
      [0, 11],
      [5, 6],
      [2 ** 32 - 1, 2],
    ])
      expect(() => sys.csum(buf, off!, len!, 0), `${off}+${len}`).toThrow(RangeError);
    // Bytes 1..4 are 00 00 73 00: the words 0x0000 + 0x7300.
    expect(sys.csum(buf, 1, 4, 0)).toBe(0x7300);
    expect(sys.csum(buf, 10, 0, 0)).toBe(0);
  });
});

describe('the socket and steering calls', () => {
  it('udpOpen rejects addresses, ports and buffer sizes out of range', () => {
    const args = [LOOPBACK, 0, 0, 0, false];
    checksInt('udpOpen', args, 0, BAD_U32);
    checksInt('udpOpen', args, 1, [...BAD_INTS, 65536]);
    checksInt('udpOpen', args, 2);
    checksInt('udpOpen', args, 3);
    rejects('udpOpen', args, 4, BAD_BOOLS, 'TypeError');
  });

  it('tunOpen rejects names that do not fit IFNAMSIZ and non-boolean flags (before opening anything)', () => {
    const args = ['ovlhostile0', false, false];
    rejects('tunOpen', args, 0, [1, null, {}, new Uint8Array(4)], 'TypeError');
    rejects('tunOpen', args, 0, ['a'.repeat(16), 'é'.repeat(8)], 'RangeError');
    rejects('tunOpen', args, 1, [...BAD_BOOLS, undefined], 'TypeError');
    rejects('tunOpen', args, 2, BAD_BOOLS, 'TypeError');
  });

  it('tunSetOffload, tunSteerByCpu, udpSteerByCpu and udpSetGro check fds and report a wrong kind of fd', () => {
    checksInt('tunSetOffload', [fds.udp, 0], 0);
    checksInt('tunSetOffload', [fds.udp, 0], 1, BAD_U32);
    checksInt('tunSteerByCpu', [fds.udp], 0);
    checksInt('udpSteerByCpu', [fds.udp, 1], 0);
    checksInt('udpSteerByCpu', [fds.udp, 1], 1, [0, ...BAD_INTS, 1025]);
    checksInt('udpSetGro', [fds.udp, true], 0);
    rejects('udpSetGro', [fds.udp, true], 1, [...BAD_BOOLS, undefined], 'TypeError');
    expect(errnoOf(() => sys.tunSetOffload(fds.udp, 0))).toEqual(expect.any(String));
    expect(errnoOf(() => sys.tunSteerByCpu(fds.udp))).toEqual(expect.any(String));
    expect(errnoOf(() => sys.udpSteerByCpu(fds.nl, 1))).toEqual(expect.any(String));
    expect(errnoOf(() => sys.udpSteerByCpu(CLOSED_FD, 1))).toBe('EBADF');
    expect(sys.udpSetGro(fds.nl, true)).toBe(false);
  });

  it('pinThread takes only an Int32Array of CPU numbers', () => {
    rejects('pinThread', [i32(0)], 0, NOT_I32, 'TypeError');
    rejects('pinThread', [i32(0)], 0, [i32(-1), i32(0, 1 << 20), i32(2 ** 31 - 1)], 'RangeError');
  });

  it('nlOpen, nlSend and nlRecv check lengths, timeouts and fds', () => {
    checksInt('nlOpen', [0], 0, BAD_U32);
    const buf = new Uint8Array(64);
    checksInt('nlSend', [fds.nl, buf, 0], 0);
    checksInt('nlSend', [fds.nl, buf, 0], 2, [...BAD_INTS, 65]);
    rejects('nlSend', [fds.nl, buf, 0], 1, NOT_U8, 'TypeError');
    checksInt('nlRecv', [fds.nl, buf, 0], 0);
    checksInt('nlRecv', [fds.nl, buf, 0], 2, [-1, ...BAD_TIMEOUTS]);
    rejects('nlRecv', [fds.nl, buf, 0], 1, NOT_U8, 'TypeError');
    expect(errnoOf(() => sys.nlSend(CLOSED_FD, buf, 16))).toBe('EBADF');
    expect(errnoOf(() => sys.nlSend(fds.udp, buf, 16))).toEqual(expect.any(String)); // not a netlink socket
    expect(errnoOf(() => sys.nlRecv(CLOSED_FD, buf, 0))).toBe('EBADF');
    expect(sys.nlRecv(fds.udp, buf, 0)).toBe(0);
  });

  it('sdNotify takes two strings that fit, and reports a missing socket', () => {
    rejects('sdNotify', ['/nonexistent', 'READY=1'], 0, [1, null, undefined, {}], 'TypeError');
    rejects('sdNotify', ['/nonexistent', 'READY=1'], 1, [1, null, undefined, {}], 'TypeError');
    rejects('sdNotify', ['/nonexistent', 'READY=1'], 0, ['', '/' + 'a'.repeat(200)], 'RangeError');
    rejects('sdNotify', ['/nonexistent', 'READY=1'], 1, ['x'.repeat(5000)], 'RangeError');
    expect(errnoOf(() => sys.sdNotify('/nonexistent/overlayd-notify', 'READY=1'))).toBe('ENOENT');
  });
});
