/**
 * The leases a hand-built flanneld node's watch sees, read once: every lease in etcd but its own,
 * with the key's last part (`10.244.3.0-24`, `…&fd00:10:244:3::-64`); a value that is not JSON is
 * skipped, as flanneld skips a lease it cannot decode. The wireguard-go nodes of both families
 * turn these into peers each their own way.
 */
import type { LabNode } from './lab-node.js';

export async function otherLeases<T>(node: LabNode, ownKey: string): Promise<{ key: string; lease: T }[]> {
  const c = node.lab.client();
  let kvs: Record<string, string>;
  try {
    kvs = await c.getAll().prefix(`${node.lab.prefix}/subnets/`).strings();
  } finally {
    c.close();
  }
  const out: { key: string; lease: T }[] = [];
  for (const [key, value] of Object.entries(kvs)) {
    if (key === ownKey) continue;
    let lease: T;
    try {
      lease = JSON.parse(value) as T;
    } catch {
      continue;
    }
    out.push({ key: key.slice(key.lastIndexOf('/') + 1), lease });
  }
  return out;
}
