/**
 * flannel's subnet.env: the file the flannel CNI plugin (and Docker via mk-docker-opts) reads.
 * Written atomically (temp file in the same directory, fsync, rename) with mode 0644, in flannel's
 * exact order and format: KEY=value, no quotes.
 */
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import { OverlaydError } from '../core/errors.js';
import { formatCidr, formatIpv4, parseCidr, type Ipv4Net } from '../core/ipv4.js';

export const DEFAULT_SUBNET_FILE = '/run/flannel/subnet.env';

export interface SubnetEnv {
  readonly network: Ipv4Net;
  readonly subnet: Ipv4Net;
  readonly mtu: number;
  readonly ipMasq: boolean;
}

export function renderSubnetEnv(env: SubnetEnv): string {
  return (
    `FLANNEL_NETWORK=${formatCidr(env.network)}\n` +
    `FLANNEL_SUBNET=${formatIpv4(env.subnet.ip + 1)}/${env.subnet.prefixLen}\n` +
    `FLANNEL_MTU=${env.mtu}\n` +
    `FLANNEL_IPMASQ=${env.ipMasq}\n`
  );
}

export async function writeSubnetFile(path: string, env: SubnetEnv): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${process.pid}.tmp`);
  try {
    await mkdir(dir, { recursive: true, mode: 0o755 });
    const fh = await open(tmp, 'w', 0o644);
    try {
      await fh.writeFile(renderSubnetEnv(env));
      await fh.chmod(0o644); // umask must not narrow it: the CNI plugin may run as another user
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw new OverlaydError(
      'SUBNET_FILE',
      `cannot write subnet file ${path}; check --subnet-file and its directory`,
      {
        cause: err,
      },
    );
  }
}

/** The previous run's values, as flannel reads them back (godotenv); unusable values come back undefined. */
export interface PreviousSubnetEnv {
  readonly network?: Ipv4Net;
  readonly subnet?: Ipv4Net;
}

export function parseSubnetEnv(text: string): PreviousSubnetEnv {
  const vars = new Map<string, string>();
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const eq = trimmed.indexOf('=');
    if (eq <= 0) continue;
    vars.set(
      trimmed.slice(0, eq).replace(/^export\s+/, ''),
      trimmed.slice(eq + 1).replace(/^["']|["']$/g, ''),
    );
  }
  // Comma-separated values mean dual-stack or garbage; flannel ignores anything but a single CIDR.
  const one = (k: string): Ipv4Net | undefined => {
    const v = vars.get(k);
    return v === undefined || v.includes(',') ? undefined : parseCidr(v);
  };
  const out: { network?: Ipv4Net; subnet?: Ipv4Net } = {};
  const network = one('FLANNEL_NETWORK');
  const subnet = one('FLANNEL_SUBNET');
  if (network) out.network = network;
  if (subnet) out.subnet = subnet;
  return out;
}

export async function readSubnetFile(path: string): Promise<PreviousSubnetEnv> {
  try {
    return parseSubnetEnv(await readFile(path, 'utf8'));
  } catch {
    return {};
  }
}
