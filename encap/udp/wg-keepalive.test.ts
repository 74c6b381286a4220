/**
 * Keepalives of one service pass go out together: every peer that is owed one in the pass gets
 * its empty transport message framed at the pass's end, all sealed in one AEAD call and sent in one
 * send call. Checked against node:crypto: each datagram is a valid WireGuard keepalive (type 4,
 * the peer's receiver index, the next counter, a tag over nothing) to that peer's endpoint; a peer
 * owed two in one pass gets one; a session replaced within the pass is never sealed with.
 */
import { createDecipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseIpv4 } from '../../core/ipv4.js';
import { nodeAead } from '../../test/support/node-aead.js';
import { QueuedControl } from '../../test/support/queued-control.js';
import type { UdpIo } from '../../sys/batch-io.js';
import { C, COUNTER_SLOTS } from './counters.js';
import { SharedPeerTable } from './peer-table.js';
import { WgDataplane, type BatchAead, type ControlAction } from './wg-dataplane.js';
import { readLe32 } from './wire/wireguard-wire.js';

const ip = (s: string): number => parseIpv4(s)!;
const PORT = 51820;
const keyOf = (i: number): Uint8Array => new Uint8Array(32).fill(0x40 + i);
const idOf = (i: number): string => Buffer.from(keyOf(i)).toString('base64');
const sendKeyOf = (i: number): Buffer => Buffer.alloc(32, 0x10 + i);

/** Returns what the test queues at the next tick; records the peers it is told got a keepalive. */
class KeepaliveControl extends QueuedControl {
  keepalivesNoted: string[] = [];
  override noteTransportSent(peer: string, _n: number, keepalive: boolean): readonly ControlAction[] {
    if (keepalive) this.keepalivesNoted.push(peer);
    return [];
  }
}

interface Sent {
  readonly to: string;
  readonly bytes: Buffer;
}

function setUp(peers: number) {
  const table = new SharedPeerTable(64);
  table.publish(
    { ip: ip('10.244.1.0'), prefixLen: 24 },
    Array.from({ length: peers }, (_, i) => ({
      subnetIp: ip(`10.244.${i + 2}.0`),
      prefixLen: 24,
      publicIp: ip(`198.18.81.${i + 2}`),
      port: PORT,
      publicKey: keyOf(i),
    })),
  );
  const calls = { seal: [] as number[], send: [] as Sent[][] };
  const aead: BatchAead = {
    sealBatch: (...a) => {
      calls.seal.push(a[6]);
      nodeAead.sealBatch(...a);
    },
    openBatch: (...a) => nodeAead.openBatch(...a),
  };
  const udp = {
    send(slab, offs, lens, start, count, addrs, ports) {
      const batch: Sent[] = [];
      for (let i = start; i < start + count; i++)
        batch.push({
          to: `${addrs[i]! >>> 24}.${(addrs[i]! >>> 16) & 255}.${(addrs[i]! >>> 8) & 255}.${addrs[i]! & 255}:${ports[i]}`,
          bytes: Buffer.from(slab.subarray(offs[i]!, offs[i]! + lens[i]!)),
        });
      calls.send.push(batch);
      return count;
    },
  } as Pick<UdpIo, 'send'> as UdpIo;
  const control = new KeepaliveControl();
  const counters = new Float64Array(COUNTER_SLOTS);
  let clock = 5_000_000;
  const dp = new WgDataplane(
    {
      mtu: 1420,
      rejectAfterMs: 180_000,
      now: () => clock,
      newWindow: () => ({ mayAccept: () => true, accept: () => true }),
    },
    table,
    control,
    aead,
    udp,
    counters,
    64,
  );
  const session = (i: number, localIndex: number, key = sendKeyOf(i)): ControlAction => ({
    session: {
      peer: idOf(i),
      localIndex,
      remoteIndex: 0x7000 + i,
      sendKey: key,
      recvKey: Buffer.alloc(32, 0x90 + i),
      isInitiator: true,
      createdAtMs: clock,
    },
  });
  const pass = (): void => {
    clock += 1000; // past the tick interval: the control plane's actions are taken
    dp.service(clock);
  };
  return { dp, control, counters, calls, session, pass };
}

/** The keepalive's counter, after checking it is type 4 to `remoteIndex` with a tag over nothing under `key`. */
function openKeepalive(bytes: Buffer, remoteIndex: number, key: Buffer): number {
  expect(bytes).toHaveLength(32);
  expect(readLe32(bytes, 0)).toBe(4);
  expect(readLe32(bytes, 4)).toBe(remoteIndex);
  const nonce = Buffer.alloc(12);
  bytes.copy(nonce, 4, 8, 16);
  const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
  d.setAuthTag(bytes.subarray(16, 32));
  expect(d.update(Buffer.alloc(0))).toHaveLength(0);
  d.final(); // throws on a bad tag
  return readLe32(bytes, 8);
}

describe('keepalives of a service pass', () => {
  it('three new initiator sessions: three keepalives, one seal call, one send call', () => {
    const { control, counters, calls, session, pass } = setUp(3);
    control.queued.push(session(0, 0xa0), session(1, 0xa1), session(2, 0xa2));
    pass();
    expect(calls.seal).toEqual([3]);
    expect(calls.send).toHaveLength(1);
    const batch = calls.send[0]!;
    expect(batch.map((m) => m.to)).toEqual(['198.18.81.2:51820', '198.18.81.3:51820', '198.18.81.4:51820']);
    batch.forEach((m, i) => expect(openKeepalive(m.bytes, 0x7000 + i, sendKeyOf(i))).toBe(0));
    expect(counters[C.wgKeepalivesSent]).toBe(3);
    expect(control.keepalivesNoted).toEqual([idOf(0), idOf(1), idOf(2)]);
  });

  it('a peer owed two keepalives in one pass gets one, on its next counter', () => {
    const { control, calls, session, pass } = setUp(2);
    control.queued.push(session(0, 0xb0), session(1, 0xb1));
    pass();
    control.queued.push({ keepalive: idOf(1) }, { keepalive: idOf(1) }, { keepalive: idOf(0) });
    pass();
    expect(calls.seal).toEqual([2, 2]);
    const second = calls.send[1]!;
    expect(second.map((m) => m.to)).toEqual(['198.18.81.3:51820', '198.18.81.2:51820']);
    expect(openKeepalive(second[0]!.bytes, 0x7001, sendKeyOf(1))).toBe(1);
    expect(openKeepalive(second[1]!.bytes, 0x7000, sendKeyOf(0))).toBe(1);
  });

  it('a session replaced later in the same pass: the keepalive goes on the new one, counter 0', () => {
    const { control, calls, session, pass } = setUp(1);
    const newer = Buffer.alloc(32, 0x5e);
    control.queued.push(session(0, 0xc0), session(0, 0xc1, newer));
    pass();
    expect(calls.seal).toEqual([1]);
    expect(openKeepalive(calls.send[0]![0]!.bytes, 0x7000, newer)).toBe(0);
  });

  it('a peer without a session: nothing is sealed or sent (a handshake is asked for instead)', () => {
    const { control, calls, pass } = setUp(1);
    control.queued.push({ keepalive: idOf(0) });
    pass();
    expect(calls.seal).toEqual([]);
    expect(calls.send).toEqual([]);
  });
});
