/**
 * One etcd failover scenario of the reliability suite, measured from outside overlayd: pods ping
 * each other through the whole fault; a lease written during the fault (when a quorum is left)
 * and one written after it must be programmed on every node; every node must still hold its own
 * lease (same subnet, live etcd lease, no conflict) and no node may hold two. Renewal times are
 * read afterwards from the daemons' own 'lease renewed' log lines.
 */
import { expect } from 'vitest';
import type { EtcdCluster } from './etcd-cluster.js';
import type { Lab } from './lab.js';
import type { LabNode } from './lab-node.js';
import { inPod, type Pod } from './pods.js';

/** The nodes of one backend: their own prefix and network, two nodes, a pod on each. */
export interface BackendGroup {
  readonly backend: 'udp' | 'vxlan';
  readonly prefix: string;
  /** Second octet of the group's 10.X.0.0/16 network. */
  readonly net: number;
  readonly nodes: readonly LabNode[];
  readonly pods: readonly Pod[];
}

export interface Fault {
  readonly name: string;
  /** Whether a quorum remains during the fault (writes are then expected to work). */
  readonly quorum: boolean;
  /** Injects the fault; resolves with the repair. */
  inject(cluster: EtcdCluster): Promise<() => Promise<void>>;
}

export interface FailoverFigures {
  readonly fault: string;
  readonly phaseS: number;
  readonly pings: Record<string, { sent: number; lost: number }>;
  /** ms from the repair until the lease written after it was programmed on every node. */
  readonly programmedAfterMs: number;
  /** ms from writing the during-the-fault lease until every node programmed it (quorum faults). */
  readonly programmedDuringMs: number | undefined;
  /** ms from the repair until every node reported etcd up. */
  readonly etcdUpMs: number;
  readonly faultAt: number;
  readonly repairedAt: number;
}

function longPing(from: Pod, to: Pod, seconds: number) {
  const count = Math.round(seconds / 0.1);
  return inPod(
    from,
    'ping',
    ['-c', String(count), '-i', '0.1', '-W', '1', to.ip],
    (seconds + 30) * 1000,
  ).then((r) => {
    const m = /(\d+) packets transmitted, (\d+) received/.exec(r.stdout);
    return { sent: Number(m?.[1] ?? 0), lost: Number(m?.[1] ?? 0) - Number(m?.[2] ?? 0) };
  });
}

const leaseValue = (g: BackendGroup, lab: Lab, host: number): string =>
  g.backend === 'vxlan'
    ? `{"PublicIP":"198.18.${lab.octet}.${host}","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:aa:00:00:${host.toString(16).padStart(2, '0')}:01"}}`
    : `{"PublicIP":"198.18.${lab.octet}.${host}","PublicIPv6":null}`;

/** Whether every node of the group has programmed the peer subnet 10.net.third.0/24. */
async function programmed(g: BackendGroup, third: number, peersWanted: number): Promise<boolean> {
  for (const n of g.nodes) {
    if (g.backend === 'vxlan') {
      const routes = await n.mustExec('ip', ['-j', 'route', 'show', `10.${g.net}.${third}.0/24`]);
      if ((JSON.parse(routes) as unknown[]).length !== 1) return false;
    } else if ((await n.metric('overlayd_peers')) !== peersWanted) return false; // udp peers live in overlayd
  }
  return true;
}

async function pollUntil(what: string, fn: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  await expect.poll(fn, { timeout: timeoutMs, interval: 100, message: what }).toBe(true);
  return Date.now() - t0;
}

/** Each node's own lease: its key, holding its PublicIP, on a live etcd lease; one per node. */
export async function ownLeases(lab: Lab, groups: readonly BackendGroup[]): Promise<Map<LabNode, string>> {
  const c = lab.client();
  const keys = new Map<LabNode, string>();
  try {
    for (const g of groups) {
      const kvs = (await c.getAll().prefix(`${g.prefix}/subnets/`).exec()).kvs;
      for (const n of g.nodes) {
        const mine = kvs.filter((kv) => JSON.parse(kv.value.toString()).PublicIP === n.ip);
        expect(mine, `node ${n.index} holds exactly one lease`).toHaveLength(1);
        const ttl = await c.leaseClient.leaseTimeToLive({ ID: mine[0]!.lease });
        expect(Number(ttl.TTL), `node ${n.index}'s etcd lease is alive`).toBeGreaterThan(0);
        const subnet = (await n.subnetEnv())['FLANNEL_SUBNET']!.replace('.1/24', '.0-24');
        expect(mine[0]!.key.toString()).toBe(`${g.prefix}/subnets/${subnet}`);
        keys.set(n, mine[0]!.key.toString());
      }
    }
  } finally {
    c.close();
  }
  return keys;
}

export async function runFailover(
  lab: Lab,
  groups: readonly BackendGroup[],
  fault: Fault,
  phaseS: number,
  third: number,
): Promise<FailoverFigures> {
  const cluster = lab.cluster!;
  const before = await ownLeases(lab, groups);
  const pings = groups.map((g) => longPing(g.pods[0]!, g.pods[1]!, phaseS + 6));
  await new Promise((r) => setTimeout(r, 1000));
  const c = lab.client();
  let programmedDuringMs: number | undefined;
  try {
    const faultAt = Date.now();
    const repair = await fault.inject(cluster);
    let during: Promise<number> | undefined;
    if (fault.quorum) {
      await new Promise((r) => setTimeout(r, 2000));
      for (const g of groups)
        await c
          .put(`${g.prefix}/subnets/10.${g.net}.${third}.0-24`)
          .value(leaseValue(g, lab, third))
          .exec();
      during = Promise.all(
        groups.map((g) =>
          pollUntil(`${g.backend}: lease written during the fault`, () => programmed(g, third, 2), 60_000),
        ),
      ).then((ts) => Math.max(...ts));
    }
    await new Promise((r) => setTimeout(r, Math.max(0, faultAt + phaseS * 1000 - Date.now())));
    await repair();
    const repairedAt = Date.now();
    const after = third + 1;
    const wanted = fault.quorum ? 3 : 2;
    for (const g of groups)
      await c
        .put(`${g.prefix}/subnets/10.${g.net}.${after}.0-24`)
        .value(leaseValue(g, lab, after))
        .exec();
    const sinceRepair = () => Date.now() - repairedAt;
    const [programmedAfterMs, etcdUpMs] = await Promise.all([
      Promise.all(
        groups.map((g) =>
          pollUntil(
            `${g.backend}: lease written after the repair`,
            () => programmed(g, after, wanted),
            60_000,
          ),
        ),
      ).then(sinceRepair),
      pollUntil(
        'every node reports etcd up',
        async () => {
          for (const g of groups)
            for (const n of g.nodes) if ((await n.metric('overlayd_etcd_up')) !== 1) return false;
          return true;
        },
        60_000,
      ).then(sinceRepair),
    ]);
    programmedDuringMs = during ? await during : undefined;
    const results = await Promise.all(pings);
    // Nothing given up, nothing taken twice, nobody moved.
    const afterKeys = await ownLeases(lab, groups);
    for (const [n, key] of before) expect(afterKeys.get(n), `node ${n.index} kept its subnet`).toBe(key);
    for (const g of groups)
      for (const n of g.nodes) {
        expect(n.running).toBe(true);
        expect(await n.metric('overlayd_lease_conflicts_total')).toBe(0);
      }
    // Leave the peer set as it was for the next fault.
    for (const g of groups) await c.delete().prefix(`${g.prefix}/subnets/10.${g.net}.${third}.0-24`).exec();
    for (const g of groups) await c.delete().prefix(`${g.prefix}/subnets/10.${g.net}.${after}.0-24`).exec();
    for (const g of groups)
      await pollUntil(
        `${g.backend}: synthetic peers removed`,
        async () => {
          for (const n of g.nodes) if ((await n.metric('overlayd_peers')) !== 1) return false;
          return true;
        },
        30_000,
      );
    return {
      fault: fault.name,
      phaseS,
      pings: Object.fromEntries(groups.map((g, i) => [g.backend, results[i]!])),
      programmedAfterMs,
      programmedDuringMs,
      etcdUpMs,
      faultAt,
      repairedAt,
    };
  } finally {
    c.close();
  }
}

/** ms from `since` to each node's first successful renewal after it (undefined: none yet). */
export async function renewalsAfter(
  groups: readonly BackendGroup[],
  since: number,
): Promise<Array<number | undefined>> {
  const out: Array<number | undefined> = [];
  for (const g of groups)
    for (const n of g.nodes) {
      const t = (await n.logs())
        .map((l) => ({ msg: l['msg'], t: Date.parse(String(l['time'])) }))
        .filter((l) => l.msg === 'lease renewed' && l.t > since)
        .map((l) => l.t)[0];
      out.push(t === undefined ? undefined : t - since);
    }
  return out;
}
