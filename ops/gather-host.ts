/**
 * I/O: host settings from /proc (this network namespace's), iptables-save through each iptables
 * variant that holds tables, ethtool's offload state of the overlay device, and the UDP checksum
 * error counter.
 */
import { existsSync, readFileSync } from 'node:fs';
import { release } from 'node:os';
import type { HostFacts, IptablesFacts } from './facts.js';
import { runTool } from './run.js';

const readProc = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
};

/** "-A" lines in an iptables-save dump: the rules it holds. */
export const countRules = (save: string): number =>
  save.split('\n').filter((l) => l.startsWith('-A ')).length;

/** The Udp InCsumErrors counter from /proc/net/snmp's header/value line pair. */
export function udpCsumErrors(snmp: string): number | undefined {
  const lines = snmp.split('\n').filter((l) => l.startsWith('Udp:'));
  if (lines.length < 2) return undefined;
  const names = lines[0]!.split(/\s+/).slice(1);
  const values = lines[1]!.split(/\s+/).slice(1);
  const i = names.indexOf('InCsumErrors');
  return i < 0 ? undefined : Number(values[i]);
}

/** ethtool -k output: the state of one feature ("tx-checksum-ip-generic: on [fixed]"). */
export function featureState(text: string, feature: string): 'on' | 'off' | undefined {
  const m = new RegExp(`^\\s*${feature}:\\s*(on|off)`, 'm').exec(text);
  return m ? (m[1] as 'on' | 'off') : undefined;
}

async function gatherIptables(): Promise<IptablesFacts> {
  const filter = await runTool('iptables-save', ['-t', 'filter']);
  const out: { -readonly [K in keyof IptablesFacts]: IptablesFacts[K] } = {};
  if (filter.code === 0) out.filterSave = filter.stdout;
  else out.error = filter.stderr.trim() || `exit ${filter.code}`;
  // Reading legacy tables through iptables-legacy-save would create them: ask /proc first.
  const legacyTables = readProc('/proc/net/ip_tables_names');
  if (legacyTables === undefined || legacyTables === '') out.legacyRules = 0;
  else {
    const r = await runTool('iptables-legacy-save', []);
    if (r.code === 0) out.legacyRules = countRules(r.stdout);
  }
  const nft = await runTool('iptables-nft-save', []);
  if (nft.code === 0) out.nftRules = countRules(nft.stdout);
  else if (out.legacyRules !== undefined && nft.code === 127) out.nftRules = 0;
  return out;
}

export async function gatherHost(deviceNames: readonly string[], overlayDevice?: string): Promise<HostFacts> {
  const rpFilter: Record<string, string> = {};
  for (const d of ['all', ...deviceNames]) {
    const v = readProc(`/proc/sys/net/ipv4/conf/${d}/rp_filter`);
    if (v !== undefined) rpFilter[d] = v;
  }
  const count = Number(readProc('/proc/sys/net/netfilter/nf_conntrack_count'));
  const max = Number(readProc('/proc/sys/net/netfilter/nf_conntrack_max'));
  let txChecksumIpGeneric: 'on' | 'off' | undefined;
  let ethtoolError: string | undefined;
  if (overlayDevice) {
    const r = await runTool('ethtool', ['-k', overlayDevice]);
    if (r.code === 0) txChecksumIpGeneric = featureState(r.stdout, 'tx-checksum-ip-generic');
    else ethtoolError = r.code === 127 ? 'ethtool is not installed' : r.stderr.trim();
  }
  const snmp = readProc('/proc/net/snmp');
  const csum = snmp === undefined ? undefined : udpCsumErrors(snmp);
  const ipForward = readProc('/proc/sys/net/ipv4/ip_forward');
  const brNf = existsSync('/proc/sys/net/bridge')
    ? readProc('/proc/sys/net/bridge/bridge-nf-call-iptables')
    : undefined;
  return {
    rpFilter,
    iptables: await gatherIptables(),
    kernelRelease: release(),
    ...(ipForward !== undefined ? { ipForward } : {}),
    ...(brNf !== undefined ? { bridgeNfCallIptables: brNf } : {}),
    ...(Number.isFinite(count) && Number.isFinite(max) && max > 0 ? { conntrack: { count, max } } : {}),
    ...(txChecksumIpGeneric ? { txChecksumIpGeneric } : {}),
    ...(ethtoolError ? { ethtoolError } : {}),
    ...(csum !== undefined ? { udpInCsumErrors: csum } : {}),
  };
}

/** The workaround for flannel#1279: checksum VXLAN packets in software. */
export async function disableChecksumOffload(device: string): Promise<string | undefined> {
  const r = await runTool('ethtool', ['-K', device, 'tx-checksum-ip-generic', 'off']);
  if (r.code === 0) return undefined;
  return r.code === 127
    ? 'ethtool is not installed (apt-get install ethtool)'
    : `ethtool -K ${device}: ${r.stderr.trim() || `exit ${r.code}`}`;
}
