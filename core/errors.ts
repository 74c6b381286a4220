/**
 * The one error type that crosses module boundaries. `code` is stable (tests and metrics key on it);
 * `cause` keeps the original error so nothing is lost when we add context.
 */
export type OverlaydErrorCode =
  | 'BAD_FLAG'
  | 'BAD_CONFIG'
  | 'CONFIG_MISSING'
  | 'BAD_LEASE'
  | 'OUT_OF_SUBNETS'
  | 'LEASE_RACE'
  | 'ETCD'
  | 'IFACE'
  | 'SUBNET_FILE'
  | 'BACKEND'
  | 'SYSCALL'
  | 'NETLINK'
  | 'IPTABLES';

export class OverlaydError extends Error {
  readonly code: OverlaydErrorCode;

  constructor(code: OverlaydErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OverlaydError';
    this.code = code;
  }
}

/** Message of any thrown value, for logs; keeps the cause chain readable on one line. */
export function describeError(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as Error & { cause?: unknown }).cause;
  return cause === undefined ? err.message : `${err.message}: ${describeError(cause)}`;
}
