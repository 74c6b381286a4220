/**
 * Programs per-peer kernel entries (neighbour, FDB, route) and keeps them converged. Shared by
 * vxlan (all three, or a direct route with DirectRouting) and host-gw (a route).
 *
 * Adding applies each peer's entries in flannel's order — neighbour, FDB, route last so the kernel
 * never ARPs for the gateway — and undoes what it did when a later step fails. Reconcile dumps
 * the kernel, deletes our entries that no peer wants (routes we own carry our route protocol;
 * neighbours and FDB entries are only touched on our own device) and adds what is missing, all in
 * a few batched netlink sends.
 */
import type { Logger } from 'pino';
import {
  AF_BRIDGE,
  AF_INET,
  NUD_PERMANENT,
  RT_TABLE_MAIN,
  RTM_NEWNEIGH,
} from '../../sys/rtnetlink/constants.js';
import { EEXIST, ENOENT, ESRCH } from '../../sys/rtnetlink/errno.js';
import { errnoName, type RtNetlink } from '../../sys/rtnetlink/netlink-socket.js';
import type { Message, Request } from '../../sys/rtnetlink/codec.js';
import { parseMac } from '../../sys/rtnetlink/codec.js';
import {
  deleteFdb,
  deleteNeigh,
  deleteRoute,
  dumpNeighs,
  dumpRoutes,
  parseNeigh,
  parseRoute,
  replaceFdb,
  replaceNeigh,
  replaceRoute,
  type Neigh,
  type RouteSpec,
} from '../../sys/rtnetlink/objects.js';
import type { KernelMetrics } from './kernel-metrics.js';

export interface NeighEntry {
  readonly ifindex: number;
  readonly ip: number;
  readonly mac: string;
}
export interface FdbEntry {
  readonly ifindex: number;
  readonly mac: string;
  readonly dst: number;
}

/** Everything one peer needs in the kernel. */
export interface PeerEntries {
  readonly neighs: readonly NeighEntry[];
  readonly fdbs: readonly FdbEntry[];
  readonly routes: readonly RouteSpec[];
}

/** dst · 64 + prefix length: unique per IPv4 prefix, and exact in a double. */
const routeKey = (r: { dst: number; dstLen: number }): number => r.dst * 64 + r.dstLen;
const fdbKey = (f: { ifindex: number; mac: string; dst: number }): string => `${f.ifindex}/${f.mac}/${f.dst}`;

const neighAdd = (n: NeighEntry): Request => replaceNeigh(n.ifindex, n.ip, parseMac(n.mac)!);
const neighDel = (n: NeighEntry): Request => deleteNeigh(n.ifindex, n.ip);
const fdbAdd = (f: FdbEntry): Request => replaceFdb(f.ifindex, parseMac(f.mac)!, f.dst);
const fdbDel = (f: FdbEntry): Request => deleteFdb(f.ifindex, parseMac(f.mac)!, f.dst);

/** Errors that mean "already as wanted" for a delete. */
const GONE = [ENOENT, ESRCH];

export interface ReconcileScope {
  /** Route protocol that marks our routes. */
  readonly protocol: number;
  /** Device whose permanent neighbours and FDB entries are ours (vxlan), if any. */
  readonly device?: number;
}

export interface ReconcileResult {
  readonly added: number;
  readonly removed: number;
  readonly failed: number;
}

export class KernelSync {
  constructor(
    private readonly nl: RtNetlink,
    private readonly metrics: KernelMetrics,
    private readonly log: Logger,
  ) {}

  /**
   * Adds many peers' entries in one netlink send (each peer's in flannel's order); a peer whose
   * step failed has its other steps undone. Returns, per peer, an error text or undefined.
   */
  addMany(list: readonly PeerEntries[]): Array<string | undefined> {
    const steps: Array<{ peer: number; op: string; add: Request; undo: Request }> = [];
    list.forEach((e, peer) => {
      for (const n of e.neighs) steps.push({ peer, op: 'neigh', add: neighAdd(n), undo: neighDel(n) });
      for (const f of e.fdbs) steps.push({ peer, op: 'fdb', add: fdbAdd(f), undo: fdbDel(f) });
      for (const r of e.routes) steps.push({ peer, op: 'route', add: replaceRoute(r), undo: deleteRoute(r) });
    });
    const out = new Array<string | undefined>(list.length).fill(undefined);
    if (steps.length === 0) return out;
    const results = this.nl.batch(steps.map((s) => s.add));
    steps.forEach((s, i) => {
      const r = results[i]!;
      if (r !== 0 && r !== EEXIST && out[s.peer] === undefined) {
        out[s.peer] = `add ${s.op}: ${errnoName(r)}`;
        this.metrics.netlinkErrors.inc({ op: `add_${s.op}` });
      }
    });
    // Undo what did succeed for the failed peers, in reverse (flannel: FDB failure removes the neighbour, …).
    const undo = steps
      .filter((s, i) => out[s.peer] !== undefined && results[i] === 0)
      .map((s) => s.undo)
      .reverse();
    if (undo.length > 0) this.nl.batch(undo);
    return out;
  }

  /** Deletes peers' entries (each route first, the reverse of add); missing entries are fine. */
  removeMany(list: readonly PeerEntries[]): void {
    const reqs = list.flatMap((e) => [
      ...e.routes.map(deleteRoute),
      ...e.fdbs.map(fdbDel),
      ...e.neighs.map(neighDel),
    ]);
    if (reqs.length === 0) return;
    const results = this.nl.batch(reqs);
    const errs = results.filter((r) => r !== 0 && !GONE.includes(r));
    if (errs.length > 0) {
      this.metrics.netlinkErrors.inc({ op: 'remove' }, errs.length);
      this.log.warn({ errors: errs.map(errnoName) }, 'some peer entries could not be removed');
    }
  }

  /**
   * Makes the kernel hold exactly `desired` (of the entries we own). Returns counts; entries that
   * cannot be added (e.g. a gateway not on-link) are counted as failed, never thrown.
   */
  reconcile(desired: readonly PeerEntries[], scope: ReconcileScope): ReconcileResult {
    this.metrics.reconcileRuns.inc();
    // Numeric keys where they fit: at 5000 peers this runs every 10 s over 15 000 entries, and
    // every key string was garbage left behind by each run.
    const wantRoutes = new Map<number, RouteSpec>();
    const wantNeighs = new Map<number, NeighEntry>();
    const wantFdbs = new Map<string, FdbEntry>();
    for (const d of desired) {
      for (const r of d.routes) wantRoutes.set(routeKey(r), r);
      for (const n of d.neighs) wantNeighs.set(n.ip, n);
      for (const f of d.fdbs) wantFdbs.set(fdbKey(f), f);
    }
    const stale: Request[] = [];
    const missing: Request[] = [];
    // Each dumped entry is compared as it is parsed (the visitor keeps nothing), so a dump of the
    // whole table never sits in memory.
    const haveRoutes = new Set<number>();
    this.nl.dumpParsed('dump routes', dumpRoutes(), (m: Message) => {
      const r = parseRoute(m);
      if (!r || r.table !== RT_TABLE_MAIN || r.protocol !== scope.protocol) return undefined;
      const want = wantRoutes.get(routeKey(r));
      const same =
        want && (want.gateway ?? -1) === (r.gateway ?? -1) && (want.oif === undefined || want.oif === r.oif);
      if (same) haveRoutes.add(routeKey(r));
      else if (!want)
        stale.push(
          deleteRoute({
            dst: r.dst,
            dstLen: r.dstLen,
            protocol: r.protocol,
            ...(r.gateway !== undefined ? { gateway: r.gateway } : {}),
            ...(r.oif !== undefined ? { oif: r.oif } : {}),
          }),
        );
      return undefined;
    });
    for (const [k, r] of wantRoutes) if (!haveRoutes.has(k)) missing.push(replaceRoute(r));

    if (scope.device !== undefined) {
      const device = scope.device;
      // Only permanent entries on our device are ours.
      const ours = (n: Neigh | undefined): n is Neigh & { dst: number } =>
        !!n && n.ifindex === device && n.dst !== undefined && (n.state & NUD_PERMANENT) !== 0;
      const haveNeighs = new Set<number>();
      this.nl.dumpParsed('dump neighbours', dumpNeighs(AF_INET), (m: Message) => {
        const n = parseNeigh(m);
        if (!ours(n)) return undefined;
        const want = wantNeighs.get(n.dst);
        if (want && want.ifindex === device && want.mac === n.lladdr) haveNeighs.add(n.dst);
        else if (!want) stale.push(deleteNeigh(n.ifindex, n.dst));
        return undefined;
      });
      for (const [k, n] of wantNeighs) if (!haveNeighs.has(k)) missing.push(neighAdd(n));
      const haveFdbs = new Set<string>();
      this.nl.dumpParsed('dump fdb', dumpNeighs(AF_BRIDGE), (m: Message) => {
        const f = parseNeigh(m);
        // The kernel's all-zeros default entry is not ours.
        if (!ours(f) || !f.lladdr || f.lladdr === '00:00:00:00:00:00') return undefined;
        const k = fdbKey({ ifindex: f.ifindex, mac: f.lladdr, dst: f.dst });
        if (wantFdbs.has(k)) haveFdbs.add(k);
        else stale.push(deleteFdb(f.ifindex, parseMac(f.lladdr)!, f.dst));
        return undefined;
      });
      for (const [k, f] of wantFdbs) if (!haveFdbs.has(k)) missing.push(fdbAdd(f));
    }
    // Stale first (a moved subnet must not clash), then missing in flannel's order: neigh, fdb, route.
    const order = (r: Request): number =>
      r.type === RTM_NEWNEIGH && r.header[0] === AF_INET ? 0 : r.type === RTM_NEWNEIGH ? 1 : 2;
    missing.sort((a, b) => order(a) - order(b));
    const staleRes = stale.length ? this.nl.batch(stale) : [];
    const addRes = missing.length ? this.nl.batch(missing) : [];
    const failed =
      addRes.filter((r) => r !== 0 && r !== EEXIST).length +
      staleRes.filter((r) => r !== 0 && !GONE.includes(r)).length;
    if (failed > 0) this.metrics.netlinkErrors.inc({ op: 'reconcile' }, failed);
    const added = addRes.filter((r) => r === 0).length;
    const removed = staleRes.filter((r) => r === 0).length;
    if (added) this.metrics.reconcileFixed.inc({ kind: 'added' }, added);
    if (removed) this.metrics.reconcileFixed.inc({ kind: 'removed' }, removed);
    if (added || removed || failed)
      this.log.info({ added, removed, failed }, 'reconciled kernel state with the peer set');
    return { added, removed, failed };
  }
}
