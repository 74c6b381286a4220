/** The peer watch against a real etcd: ordered events, own lease excluded, malformed entries, resync. */
import { Etcd3 } from 'etcd3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEtcdClient } from '../subnet-lease/etcd-client.js';
import { formatCidr, formatIpv4, parseCidr } from '../core/ipv4.js';
import type { LeaseEvent } from '../core/lease.js';
import { PeerWatch } from '../subnet-lease/peer-watch.js';
import { EtcdRegistry } from '../subnet-lease/registry.js';
import { EtcdServer } from './lab/etcd-server.js';
import { TcpProxy } from './lab/tcp-proxy.js';
import { testLogger } from './support/log.js';

let etcd: EtcdServer;
let admin: Etcd3;
const prefix = '/coreos.com/network';
const sub = `${prefix}/subnets/`;

beforeAll(async () => {
  etcd = await EtcdServer.start();
  admin = etcd.client();
});
afterAll(async () => {
  admin?.close();
  await etcd?.stop();
});

const value = (ip: string): string => `{"PublicIP":"${ip}","PublicIPv6":null,"BackendType":"host-gw"}`;
const fmt = (e: LeaseEvent): string =>
  `${e.type} ${formatCidr(e.lease.subnet)} ${formatIpv4(e.lease.attrs.publicIp)}`;

async function until(pred: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('peer watch', () => {
  it('lists, then delivers puts and deletes in order, skipping our own lease and malformed entries', async () => {
    await admin.delete().all().exec();
    await admin.put(`${sub}10.244.1.0-24`).value(value('198.18.0.1')).exec();
    await admin.put(`${sub}10.244.2.0-24`).value(value('198.18.0.2')).exec(); // ours
    const events: string[] = [];
    let malformed = 0;
    const registry = new EtcdRegistry(admin, prefix);
    const watch = new PeerWatch({
      registry,
      ownSubnet: () => parseCidr('10.244.2.0/24'),
      log: testLogger(),
      hooks: { onEvents: (evs) => void events.push(...evs.map(fmt)), onMalformed: () => void malformed++ },
    });
    await watch.start();
    await until(() => events.length === 1);
    await admin.put(`${sub}10.244.3.0-24`).value(value('198.18.0.3')).exec();
    await admin.put(`${sub}10.244.4.0-24`).value('{not json').exec();
    await admin.put(`${sub}bogus`).value(value('198.18.0.9')).exec();
    await admin.delete().key(`${sub}10.244.1.0-24`).exec();
    await admin.put(`${sub}10.244.3.0-24`).value(value('198.18.0.33')).exec();
    await admin.put(`${sub}10.244.2.0-24`).value(value('198.18.0.2')).exec(); // our renewal: ignored
    await until(() => events.length === 4);
    expect(events).toEqual([
      'added 10.244.1.0/24 198.18.0.1',
      'added 10.244.3.0/24 198.18.0.3',
      'removed 10.244.1.0/24 198.18.0.1',
      'added 10.244.3.0/24 198.18.0.33',
    ]);
    expect(malformed).toBe(2);
    await watch.stop();
  });

  it('after a partition and a compaction, resyncs and emits exactly the difference', async () => {
    await admin.delete().all().exec();
    for (let i = 1; i <= 5; i++)
      await admin
        .put(`${sub}10.244.${i}.0-24`)
        .value(value(`198.18.0.${i}`))
        .exec();
    const proxy = await TcpProxy.start('127.0.0.1', Number(new URL(etcd.endpoint).port));
    const { client } = createEtcdClient({ endpoints: [proxy.endpoint], callTimeoutMs: 1000 });
    const events: string[] = [];
    const resyncs: string[] = [];
    const connectivity: boolean[] = [];
    const watch = new PeerWatch({
      registry: new EtcdRegistry(client, prefix),
      ownSubnet: () => undefined,
      log: testLogger(),
      maxBackoffMs: 200,
      hooks: {
        onEvents: (evs) => void events.push(...evs.map(fmt)),
        onResync: (r) => void resyncs.push(r),
        onConnectivity: (up) => void connectivity.push(up),
      },
    });
    await watch.start();
    await until(() => events.length === 5);
    events.length = 0;

    proxy.partition();
    await admin.delete().key(`${sub}10.244.2.0-24`).exec();
    await admin.put(`${sub}10.244.3.0-24`).value(value('198.18.0.3')).exec(); // same value: no event
    await admin.put(`${sub}10.244.4.0-24`).value(value('198.18.0.44')).exec();
    await admin.put(`${sub}10.244.6.0-24`).value(value('198.18.0.6')).exec();
    const rev = (await admin.get('x').exec()).header.revision;
    await admin.kv.compact({ revision: rev, physical: true });
    // While etcd is unreachable nothing is removed.
    await new Promise((r) => setTimeout(r, 1500));
    expect(events).toEqual([]);
    expect(watch.peers()).toHaveLength(5);

    proxy.heal();
    await until(() => events.length >= 3, 20_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(events).toEqual([
      'removed 10.244.2.0/24 198.18.0.2',
      'added 10.244.4.0/24 198.18.0.44',
      'added 10.244.6.0/24 198.18.0.6',
    ]);
    expect(resyncs.length).toBeGreaterThan(0);
    expect(connectivity).toContain(false);
    expect(connectivity.at(-1)).toBe(true);
    await watch.stop();
    client.close();
    await proxy.close();
  });
});
