/**
 * The operator subcommands, `overlayd status` and `overlayd diagnose`: their own switches are taken
 * out first, everything else is parsed as the daemon's flags (and FLANNELD_* environment), so the
 * same /etc/default/overlayd or command line finds the same etcd, socket and files.
 */
import { parseFlags } from '../daemon/flags.js';
import { runDiagnose } from './diagnose.js';
import { renderStatus } from './status.js';
import { fetchStatus } from './status-client.js';

const OWN: Record<'status' | 'diagnose', readonly string[]> = {
  status: ['json'],
  diagnose: ['json', 'no-probes', 'fix-checksum-offload'],
};

export const USAGE: Record<'status' | 'diagnose', string> = {
  status:
    'Usage: overlayd status [--json] [daemon flags, e.g. --status-socket=PATH]\n' +
    "  The running daemon's lease, backend and datapath mode, peers, counters, etcd reachability and\n" +
    '  readiness, read from its status socket (default /run/flannel/overlayd.sock, root only).\n',
  diagnose:
    'Usage: overlayd diagnose [--json] [--no-probes] [--fix-checksum-offload] [daemon flags]\n' +
    "  Checks this node's overlay (config, leases, kernel state, host settings, MTU, probes to every\n" +
    '  peer through the datapath); each check ok/warn/fail with evidence and a fix. Exit 1 if any fail.\n' +
    "  Give it the daemon's flags or FLANNELD_* environment so it finds the same etcd and files.\n" +
    '  --no-probes             skip the per-peer pings\n' +
    "  --fix-checksum-offload  apply flannel's VXLAN workaround first: ethtool -K flannel.N tx-checksum-ip-generic off\n",
};

/** Splits the subcommand's own switches (bare booleans) from the daemon flags. */
export function splitArgs(
  cmd: 'status' | 'diagnose',
  argv: readonly string[],
): { own: Set<string>; rest: string[] } {
  const own = new Set<string>();
  const rest: string[] = [];
  for (const a of argv) {
    const m = /^--?([a-z-]+)$/.exec(a);
    if (m && (OWN[cmd].includes(m[1]!) || m[1] === 'help' || m[1] === 'h'))
      own.add(m[1] === 'h' ? 'help' : m[1]!);
    else rest.push(a);
  }
  return { own, rest };
}

export async function runOps(
  cmd: 'status' | 'diagnose',
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  out: (s: string) => void = (s) => process.stdout.write(s),
  err: (s: string) => void = (s) => process.stderr.write(s),
): Promise<number> {
  const { own, rest } = splitArgs(cmd, argv);
  if (own.has('help')) {
    out(USAGE[cmd]);
    return 0;
  }
  const parsed = parseFlags(rest, env);
  if (!parsed.ok) {
    err(`overlayd ${cmd}: ${parsed.error}\n`);
    return 2;
  }
  const flags = parsed.flags;
  if (cmd === 'status') {
    if (flags.statusSocket === '') {
      err('overlayd status: --status-socket is "" (disabled); give the socket the daemon listens on\n');
      return 2;
    }
    const r = await fetchStatus(flags.statusSocket);
    if (!r.ok) {
      err(`overlayd status: ${flags.statusSocket}: ${r.error}; overlayd diagnose works without the daemon\n`);
      return 1;
    }
    out(own.has('json') ? JSON.stringify(r.status, null, 2) + '\n' : renderStatus(r.status));
    return r.status.ready ? 0 : 1;
  }
  return runDiagnose(
    flags,
    {
      json: own.has('json'),
      probes: !own.has('no-probes'),
      fixChecksumOffload: own.has('fix-checksum-offload'),
    },
    out,
  );
}
