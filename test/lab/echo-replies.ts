/**
 * The ICMP echo replies a namespace's kernel has received (`Icmp: InEchoReps` in /proc/net/snmp,
 * which is per network namespace). A test that starts a long ping and must inject its fault only
 * once traffic flows waits for this to grow, instead of sleeping a guessed second.
 */
import { inPod, type Pod } from './pods.js';

export async function echoRepliesReceived(pod: Pick<Pod, 'ns'>): Promise<number> {
  const r = await inPod(pod, 'cat', ['/proc/net/snmp']);
  if (r.code !== 0) throw new Error(`reading /proc/net/snmp in ${pod.ns}: ${r.stderr.trim()}`);
  const icmp = r.stdout.split('\n').filter((l) => l.startsWith('Icmp:'));
  const [names, values] = [icmp[0]?.split(/\s+/) ?? [], icmp[1]?.split(/\s+/) ?? []];
  const i = names.indexOf('InEchoReps');
  if (i < 0 || values[i] === undefined) throw new Error(`no Icmp InEchoReps in ${pod.ns}'s /proc/net/snmp`);
  return Number(values[i]);
}
