/**
 * I/O: what etcd and this node's files say — the network config (etcd or --net-config-path), every
 * lease under subnets/, the interface the daemon would pick and subnet.env. etcd calls carry the
 * daemon's client deadlines (5 s), so an unreachable etcd is a finding, not a hang.
 */
import { readFile } from 'node:fs/promises';
import { readConfigOnce } from '../daemon/config-source.js';
import { describeError } from '../core/errors.js';
import type { Flags } from '../daemon/flags.js';
import { readHostView } from '../sys/host-view.js';
import { selectInterface } from '../daemon/iface.js';
import { openEtcdRegistry } from '../subnet-lease/etcd-client.js';
import { parseIpv4 } from '../core/ipv4.js';
import type { ClusterFacts, LocalFacts } from './facts.js';

/** grpc's errors run to several lines of resolver notes: keep the first sentence and the errno. */
export function conciseEtcdError(text: string): string {
  const head = text.split(/\. Last error:|\. Resolution note:|\n/)[0]!.trim();
  const m = /\b(ECONNREFUSED|ETIMEDOUT|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|DEADLINE_EXCEEDED)\b/.exec(text);
  return m && !head.includes(m[1]!) ? `${head} (${m[1]})` : head;
}

export async function gatherCluster(flags: Flags): Promise<ClusterFacts> {
  const { registry } = openEtcdRegistry(flags.etcdPrefix, {
    endpoints: flags.etcdEndpoints,
    cafile: flags.etcdCafile,
    certfile: flags.etcdCertfile,
    keyfile: flags.etcdKeyfile,
    username: flags.etcdUsername,
    password: flags.etcdPassword,
    callTimeoutMs: 3000,
  });
  const base = {
    etcdEndpoints: flags.etcdEndpoints,
    configKey: flags.netConfigPath || registry.configKey,
    subnetsPrefix: registry.subnetsPrefix,
  };
  try {
    let listing;
    try {
      listing = await registry.listLeases();
    } catch (err) {
      return { ...base, etcdError: conciseEtcdError(describeError(err)), leases: [], malformed: [] };
    }
    const cfg = await readConfigOnce(registry, flags.netConfigPath);
    return {
      ...base,
      leases: listing.leases,
      malformed: listing.malformed,
      ...(cfg.ok ? { config: cfg.config } : { configError: describeError(cfg.error) }),
    };
  } finally {
    registry.close();
  }
}

/** subnet.env as KEY=value pairs (the file overlayd and flanneld write). */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const t = line.trim();
    const eq = t.indexOf('=');
    if (t === '' || t.startsWith('#') || eq <= 0) continue;
    out[t.slice(0, eq).replace(/^export\s+/, '')] = t.slice(eq + 1).replace(/^["']|["']$/g, '');
  }
  return out;
}

export async function gatherLocal(flags: Flags): Promise<LocalFacts> {
  let iface: LocalFacts['iface'];
  let ifaceError: string | undefined;
  try {
    const ext = selectInterface(readHostView(), {
      iface: flags.iface,
      ifaceRegex: flags.ifaceRegex,
      publicIp: flags.publicIp,
    });
    iface = { name: ext.name, publicIp: parseIpv4(ext.publicIp)!, mtu: ext.mtu };
  } catch (err) {
    ifaceError = describeError(err);
  }
  let subnetEnv: Record<string, string> | undefined;
  let subnetEnvError: string | undefined;
  try {
    subnetEnv = parseEnvFile(await readFile(flags.subnetFile, 'utf8'));
  } catch (err) {
    subnetEnvError = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : describeError(err);
  }
  return {
    subnetFile: flags.subnetFile,
    ...(iface ? { iface } : {}),
    ...(ifaceError ? { ifaceError } : {}),
    ...(subnetEnv ? { subnetEnv } : {}),
    ...(subnetEnvError ? { subnetEnvError } : {}),
  };
}
