/**
 * Command-line flags with flanneld's names, defaults and Go `flag` syntax (-x and --x, -x=v or -x v,
 * booleans as -x or -x=false), each also settable as FLANNELD_<NAME> when not given on the command
 * line (flannel's flagutil rule; an empty variable is ignored). Parsing is pure: argv and env in,
 * a typed result or one error line out.
 */
import { parseIpv6 } from '../core/ipv6.js';

export type FlagKind = 'string' | 'bool' | 'int' | 'list';

interface FlagSpec {
  readonly name: string;
  readonly kind: FlagKind;
  readonly dflt: string | boolean | number | readonly string[];
  readonly help: string;
  /** Accepted form, shown in errors. */
  readonly form?: string;
  readonly min?: number;
  readonly max?: number;
  readonly choices?: readonly string[];
}

const SPECS: readonly FlagSpec[] = [
  {
    name: 'etcd-endpoints',
    kind: 'string',
    dflt: 'http://127.0.0.1:4001,http://127.0.0.1:2379',
    help: 'comma-separated etcd endpoints',
    form: 'http(s)://host:port[,...]',
  },
  {
    name: 'etcd-prefix',
    kind: 'string',
    dflt: '/coreos.com/network',
    help: 'etcd prefix of the network config and leases',
    form: 'an absolute key path like /coreos.com/network',
  },
  { name: 'etcd-keyfile', kind: 'string', dflt: '', help: 'SSL key file used to secure etcd communication' },
  {
    name: 'etcd-certfile',
    kind: 'string',
    dflt: '',
    help: 'SSL certification file used to secure etcd communication',
  },
  {
    name: 'etcd-cafile',
    kind: 'string',
    dflt: '',
    help: 'SSL Certificate Authority file used to secure etcd communication',
  },
  { name: 'etcd-username', kind: 'string', dflt: '', help: 'username for BasicAuth to etcd' },
  { name: 'etcd-password', kind: 'string', dflt: '', help: 'password for BasicAuth to etcd' },
  {
    name: 'iface',
    kind: 'list',
    dflt: [],
    help: 'interface to use (IP or name) for inter-host communication; repeatable, tried in order',
  },
  {
    name: 'iface-regex',
    kind: 'list',
    dflt: [],
    help: 'regex of the interface name or IP to use; repeatable, tried after --iface',
  },
  {
    name: 'public-ip',
    kind: 'string',
    dflt: '',
    help: 'IP accessible by other nodes for inter-host communication',
    form: 'an IPv4 address like 198.18.0.1',
  },
  {
    name: 'public-ipv6',
    kind: 'string',
    dflt: '',
    help: 'IPv6 accessible by other nodes for inter-host communication (dual-stack)',
    form: 'an IPv6 address like fd00:198:18::1',
  },
  {
    name: 'iface-can-reach',
    kind: 'string',
    dflt: '',
    help: 'use the interface (and source address) the kernel routes this address by, as `ip route get` shows',
    form: 'an IPv4 or IPv6 address',
  },
  {
    name: 'subnet-file',
    kind: 'string',
    dflt: '/run/flannel/subnet.env',
    help: 'file to write the subnet and MTU to (read by the flannel CNI plugin)',
  },
  {
    name: 'net-config-path',
    kind: 'string',
    dflt: '',
    help: 'read the network config from this JSON file instead of <etcd-prefix>/config (leases stay in etcd)',
  },
  {
    name: 'subnet-lease-renew-margin',
    kind: 'int',
    dflt: 60,
    min: 1,
    max: 1439,
    help: 'subnet lease renewal margin, in minutes',
    form: 'whole minutes from 1 to 1439',
  },
  {
    name: 'ip-masq',
    kind: 'bool',
    dflt: false,
    help: 'set up IP masquerade for traffic leaving the overlay network',
  },
  {
    name: 'ip-masq-fully-random-disable',
    kind: 'bool',
    dflt: false,
    help: 'do not add --random-fully to the MASQUERADE rules',
  },
  {
    name: 'iptables-resync',
    kind: 'int',
    dflt: 5,
    min: 1,
    max: 86400,
    help: 'resync period of the iptables rules, in seconds',
    form: 'whole seconds from 1 to 86400',
  },
  {
    name: 'iptables-forward-rules',
    kind: 'bool',
    dflt: true,
    help: 'add default accept rules to the FORWARD chain',
  },
  {
    name: 'healthz-ip',
    kind: 'string',
    dflt: '0.0.0.0',
    help: 'address the healthz/readyz/metrics server listens on',
    form: 'an IPv4 address like 0.0.0.0',
  },
  {
    name: 'healthz-port',
    kind: 'int',
    dflt: 0,
    min: 0,
    max: 65535,
    help: 'port of the healthz/readyz/metrics server (0 disables it)',
    form: 'a port from 0 to 65535',
  },
  {
    name: 'status-socket',
    kind: 'string',
    dflt: '/run/flannel/overlayd.sock',
    help: 'unix socket (mode 0600) of the status endpoint read by `overlayd status` and `overlayd diagnose` ("" disables it)',
    form: 'an absolute path like /run/flannel/overlayd.sock, or ""',
  },
  {
    name: 'tun-name',
    kind: 'string',
    dflt: 'flannel0',
    help: 'udp backend: name of the TUN device',
    form: 'an interface name of 1 to 15 characters',
  },
  {
    name: 'udp-offloads',
    kind: 'string',
    dflt: 'auto',
    choices: ['auto', 'off'],
    help: 'udp backend: TUN TSO/GSO/GRO offloads (auto probes the kernel; off forces the plain path)',
    form: 'auto or off',
  },
  {
    name: 'udp-sg',
    kind: 'string',
    dflt: 'auto',
    choices: ['auto', 'off'],
    help: 'udp backend: scatter-gather GSO sends and GRO writes, no payload copies (auto probes the kernel; off copies, for A/B)',
    form: 'auto or off',
  },
  {
    name: 'vxlan-datapath',
    kind: 'string',
    dflt: 'auto',
    choices: ['kernel', 'userspace', 'auto'],
    help: 'vxlan backend: kernel vxlan device, or VXLAN carried in userspace over a TUN (auto: kernel where the device can be created)',
    form: 'kernel, userspace or auto',
  },
  {
    name: 'udp-batch',
    kind: 'string',
    dflt: 'auto',
    choices: ['auto', 'off'],
    help: 'udp backend: recvmmsg/sendmmsg batching (off = one syscall per packet)',
    form: 'auto or off',
  },
  {
    name: 'udp-workers',
    kind: 'string',
    dflt: '1',
    choices: ['1', '2'],
    help: 'udp backend: datapath threads per queue (1 = one for both directions, lowest latency; 2 = one per direction)',
    form: '1 or 2',
  },
  {
    name: 'udp-queues',
    kind: 'string',
    dflt: '1',
    choices: ['auto', '1', '2', '3', '4', '5', '6', '7', '8'],
    help: 'udp backend: datapath queues (TUN queue + UDP socket + pinned worker), steered by CPU; auto = one per CPU, at most 4 (shorter round trips, less single-flow throughput)',
    form: 'auto or a whole number from 1 to 8',
  },
  {
    name: 'log-level',
    kind: 'string',
    dflt: 'info',
    choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace'],
    help: 'log level',
    form: 'one of fatal, error, warn, info, debug, trace',
  },
  { name: 'version', kind: 'bool', dflt: false, help: 'print the version and exit' },
  { name: 'help', kind: 'bool', dflt: false, help: 'print this help and exit' },
];

export interface Flags {
  etcdEndpoints: string[];
  etcdPrefix: string;
  etcdKeyfile: string;
  etcdCertfile: string;
  etcdCafile: string;
  etcdUsername: string;
  etcdPassword: string;
  iface: string[];
  ifaceRegex: string[];
  publicIp: string;
  publicIpv6: string;
  ifaceCanReach: string;
  subnetFile: string;
  netConfigPath: string;
  subnetLeaseRenewMargin: number;
  ipMasq: boolean;
  ipMasqFullyRandomDisable: boolean;
  iptablesResync: number;
  iptablesForwardRules: boolean;
  healthzIp: string;
  healthzPort: number;
  statusSocket: string;
  tunName: string;
  udpOffloads: 'auto' | 'off';
  udpSg: 'auto' | 'off';
  vxlanDatapath: 'kernel' | 'userspace' | 'auto';
  udpBatch: 'auto' | 'off';
  udpWorkers: '1' | '2';
  udpQueues: string;
  logLevel: string;
  version: boolean;
  help: boolean;
}

export type FlagsResult = { ok: true; flags: Flags } | { ok: false; error: string };

const camel = (name: string): string => name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
export const envNameOf = (name: string): string => `FLANNELD_${name.toUpperCase().replace(/[-.]/g, '_')}`;

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

function convert(spec: FlagSpec, raw: string, source: string): { value: unknown } | { error: string } {
  const bad = (why: string): { error: string } => ({
    error: `${source}: ${why}; expected ${spec.form ?? spec.kind}`,
  });
  switch (spec.kind) {
    case 'bool': {
      const v = raw.toLowerCase();
      if (['1', 't', 'true'].includes(v)) return { value: true };
      if (['0', 'f', 'false'].includes(v)) return { value: false };
      return { error: `${source}: invalid boolean "${raw}"; expected true or false` };
    }
    case 'int': {
      if (!/^-?\d+$/.test(raw)) return bad(`invalid value "${raw}"`);
      const n = Number(raw);
      if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
        return bad(`${n} is out of range`);
      }
      return { value: n };
    }
    case 'list':
      return {
        value: raw
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== ''),
      };
    case 'string':
      if (spec.choices && !spec.choices.includes(raw)) return bad(`invalid value "${raw}"`);
      return { value: raw };
  }
}

function checkSemantics(f: Flags): string | undefined {
  if (f.publicIp !== '' && !IPV4.test(f.publicIp))
    return `--public-ip: invalid value "${f.publicIp}"; expected an IPv4 address like 198.18.0.1`;
  if (f.publicIpv6 !== '' && parseIpv6(f.publicIpv6) === undefined)
    return `--public-ipv6: invalid value "${f.publicIpv6}"; expected an IPv6 address like fd00:198:18::1`;
  if (f.ifaceCanReach !== '' && !IPV4.test(f.ifaceCanReach) && parseIpv6(f.ifaceCanReach) === undefined)
    return `--iface-can-reach: invalid value "${f.ifaceCanReach}"; expected an IPv4 or IPv6 address`;
  if (!IPV4.test(f.healthzIp))
    return `--healthz-ip: invalid value "${f.healthzIp}"; expected an IPv4 address like 0.0.0.0`;
  if (!f.etcdPrefix.startsWith('/'))
    return `--etcd-prefix: invalid value "${f.etcdPrefix}"; expected an absolute key path like /coreos.com/network`;
  if (f.statusSocket !== '' && (!f.statusSocket.startsWith('/') || f.statusSocket.length > 107))
    return `--status-socket: invalid value "${f.statusSocket}"; expected an absolute path of at most 107 characters like /run/flannel/overlayd.sock, or ""`;
  if (f.tunName.length === 0 || f.tunName.length > 15 || /[\s/]/.test(f.tunName)) {
    return `--tun-name: invalid value "${f.tunName}"; expected an interface name of 1 to 15 characters`;
  }
  for (const ep of f.etcdEndpoints) {
    let url: URL;
    try {
      url = new URL(ep);
    } catch {
      return `--etcd-endpoints: invalid endpoint "${ep}"; expected http(s)://host:port[,...]`;
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      return `--etcd-endpoints: invalid endpoint "${ep}"; expected http(s)://host:port[,...]`;
    }
  }
  if (f.etcdEndpoints.length === 0) return '--etcd-endpoints: empty; expected http(s)://host:port[,...]';
  for (const re of f.ifaceRegex) {
    try {
      new RegExp(re);
    } catch {
      return `--iface-regex: invalid regular expression "${re}"; expected a regex like ^eth[0-9]+$`;
    }
  }
  return undefined;
}

export function parseFlags(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): FlagsResult {
  const values = new Map<string, unknown>();
  const given = new Set<string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const m = /^--?([^=]+)(?:=(.*))?$/s.exec(arg);
    if (!m || arg === '-' || arg === '--') {
      return { ok: false, error: `unexpected argument "${arg}"; overlayd takes only flags (see --help)` };
    }
    const name = m[1]!;
    const spec = SPECS.find((s) => s.name === name);
    if (!spec) return { ok: false, error: `unknown flag -${name}; see overlayd --help for the flags` };
    let raw = m[2];
    if (raw === undefined) {
      if (spec.kind === 'bool') raw = 'true';
      else if (i + 1 < argv.length) raw = argv[++i]!;
      else return { ok: false, error: `--${name}: flag needs a value; expected ${spec.form ?? spec.kind}` };
    }
    const conv = convert(spec, raw, `--${name}`);
    if ('error' in conv) return { ok: false, error: conv.error };
    if (spec.kind === 'list') {
      values.set(name, [...((values.get(name) as string[] | undefined) ?? []), ...(conv.value as string[])]);
    } else values.set(name, conv.value);
    given.add(name);
  }
  for (const spec of SPECS) {
    if (given.has(spec.name)) continue;
    const envName = envNameOf(spec.name);
    const raw = env[envName];
    if (raw === undefined || raw === '') continue;
    const conv = convert(spec, raw, envName);
    if ('error' in conv) return { ok: false, error: conv.error };
    values.set(spec.name, conv.value);
  }
  const flags: Record<string, unknown> = {};
  for (const spec of SPECS) {
    const v = values.has(spec.name) ? values.get(spec.name) : spec.dflt;
    flags[camel(spec.name)] = Array.isArray(v) ? [...v] : v;
  }
  flags['etcdEndpoints'] = String(flags['etcdEndpoints'])
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const result = flags as unknown as Flags;
  const semantic = checkSemantics(result);
  return semantic ? { ok: false, error: semantic } : { ok: true, flags: result };
}

export function helpText(version: string): string {
  const lines = [
    `overlayd ${version}: a flannel-compatible overlay network daemon`,
    '',
    'Usage: overlayd [flags]',
    "       overlayd status [--json] [flags]      the running daemon's view (see overlayd status --help)",
    "       overlayd diagnose [--json] [flags]    check this node's overlay (see overlayd diagnose --help)",
    '',
    'Flags (each also settable as FLANNELD_<FLAG>, e.g. FLANNELD_ETCD_ENDPOINTS):',
  ];
  for (const s of SPECS) {
    const dflt = s.kind === 'list' ? '' : s.dflt === '' ? '' : ` (default ${String(s.dflt)})`;
    const arg = s.kind === 'bool' ? '' : s.kind === 'int' ? ' N' : ' VALUE';
    lines.push(`  --${s.name}${arg}`.padEnd(40) + s.help + dflt);
  }
  return lines.join('\n') + '\n';
}
