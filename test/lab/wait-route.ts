/**
 * Waits until a node's kernel routes a subnet through a given device: the sign that overlayd has
 * applied a peer's lease (we wait for what the daemon programs, not for a guessed time).
 */
import type { LabNode } from './lab-node.js';

export async function waitRoute(
  node: LabNode,
  subnet: string,
  dev: string,
  { timeoutMs = 20_000 }: { timeoutMs?: number } = {},
): Promise<void> {
  const family = subnet.includes(':') ? '-6' : '-4';
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline;) {
    const r = await node.exec('ip', [family, 'route', 'show', subnet]);
    if (r.stdout.includes(dev)) return;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`node ${node.index}: no ${family === '-6' ? 'IPv6 ' : ''}route for ${subnet} via ${dev}`);
}
