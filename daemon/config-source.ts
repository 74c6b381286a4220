/**
 * Where the network config comes from: <etcd-prefix>/config, or a JSON file (--net-config-path, as
 * kube-flannel's net-conf.json). A missing or invalid config is not fatal at start: it is logged
 * once per distinct problem and polled every second, as flanneld does, so fixing it is enough.
 */
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { OverlaydError, describeError } from '../core/errors.js';
import type { NetworkConfig } from '../core/network.js';
import { parseNetworkConfig } from '../subnet-lease/network-config.js';
import type { LeaseRegistry } from '../subnet-lease/lease-registry.js';

export type ConfigResult =
  { ok: true; config: NetworkConfig; text: string } | { ok: false; error: OverlaydError };

export async function readConfigOnce(registry: LeaseRegistry, path: string): Promise<ConfigResult> {
  let text: string | undefined;
  try {
    if (path) {
      try {
        text = await readFile(path, 'utf8');
      } catch (err) {
        return {
          ok: false,
          error: new OverlaydError(
            'CONFIG_MISSING',
            `cannot read --net-config-path ${path}: ${(err as NodeJS.ErrnoException).code ?? err}`,
            { cause: err },
          ),
        };
      }
    } else {
      text = await registry.getConfigText();
      if (text === undefined) {
        return {
          ok: false,
          error: new OverlaydError(
            'CONFIG_MISSING',
            `network config not found at ${registry.configKey}; create it with: etcdctl put ${registry.configKey} '{"Network":"10.244.0.0/16","Backend":{"Type":"vxlan"}}'`,
          ),
        };
      }
    }
    return { ok: true, config: parseNetworkConfig(text), text };
  } catch (err) {
    if (err instanceof OverlaydError) return { ok: false, error: err };
    return { ok: false, error: new OverlaydError('ETCD', describeError(err), { cause: err }) };
  }
}

/** Polls until a valid config appears; logs each distinct problem once. */
export async function waitForConfig(
  registry: LeaseRegistry,
  path: string,
  log: Logger,
  onError: (e: OverlaydError) => void,
  signal: AbortSignal,
  intervalMs = 1000,
): Promise<{ config: NetworkConfig; text: string } | undefined> {
  let lastProblem = '';
  while (!signal.aborted) {
    const r = await readConfigOnce(registry, path);
    if (r.ok) return r;
    onError(r.error);
    const problem = describeError(r.error);
    if (problem !== lastProblem) {
      log.error({ code: r.error.code }, `${problem} (retrying every ${intervalMs / 1000} s)`);
      lastProblem = problem;
    }
    await new Promise((res) => setTimeout(res, intervalMs).unref());
  }
  return undefined;
}
