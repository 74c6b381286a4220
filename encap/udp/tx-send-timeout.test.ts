/**
 * A UDP socket that stays full: sendBatch gives up at its deadline with -ETIMEDOUT, and the tx
 * engine must then drop the rest of the batch as `send_timeout` in one go, not call again (and wait
 * again) for every remaining message.
 */
import { constants } from 'node:os';
import { describe, expect, it } from 'vitest';
import { parseCidr, parseIpv4 } from '../../core/ipv4.js';
import { sum16 } from '../packet/checksum.js';
import { makeUdp4, randomBytes } from '../../test/support/test-packets.js';
import { SlotPool } from '../pool.js';
import { C, dropIndex, reasonIndex } from './counters.js';
import { MemoryNetwork, MemoryTun, MemoryUdp } from '../../test/support/memory-io.js';
import { SharedPeerTable } from './peer-table.js';
import { TxEngine } from './tx-engine.js';

const ip = (s: string): number => parseIpv4(s)!;

/** A socket whose every send times out, as the native call reports it. */
class FullUdp extends MemoryUdp {
  override send(): number {
    this.sendCalls++;
    return -constants.errno.ETIMEDOUT;
  }
}

describe('tx engine on a socket that stays full', () => {
  it('counts the whole batch as send_timeout after one timed-out send', () => {
    const table = new SharedPeerTable(8);
    const counters = new Float64Array(128);
    const tun = new MemoryTun();
    const udp = new FullUdp(new MemoryNetwork(), ip('198.18.0.1'), 8285);
    const opts = { vnet: false, gso: false, sg: false, batch: 64, maxPacket: 1472 };
    const tx = new TxEngine(opts, new SlotPool(128, 2048, 16), table, tun, udp, counters, sum16);
    table.publish(parseCidr('10.244.1.0/24')!, [
      { subnetIp: ip('10.244.2.0'), prefixLen: 24, publicIp: ip('198.18.0.2'), port: 8285 },
    ]);
    for (let i = 0; i < 10; i++)
      tun.toEngine.push(makeUdp4(ip('10.244.1.5'), ip('10.244.2.9'), randomBytes(50)));
    expect(tx.step(0)).toBe(10);
    expect(udp.sendCalls).toBe(1);
    expect(counters[dropIndex('tx', reasonIndex('send_timeout'))]).toBe(10);
    expect(counters[dropIndex('tx', reasonIndex('send_error'))]).toBe(0);
    expect(counters[C.txPackets]).toBe(0);
  });
});
