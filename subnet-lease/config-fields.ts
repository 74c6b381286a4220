/**
 * Reading fields of flannel's network config JSON the way Go's encoding/json fills its Config
 * struct: keys match case-insensitively, null is "not given", and a value of the wrong JSON type is
 * an error that names the field and the fix. Shared by the IPv4 and IPv6 halves of the validation.
 */
import { OverlaydError } from '../core/errors.js';

export function configError(field: string, problem: string, fix: string): OverlaydError {
  return new OverlaydError('BAD_CONFIG', `network config: ${field} ${problem}; ${fix}`);
}

/** Go's encoding/json matches struct fields case-insensitively; we do the same with one lowercased copy. */
export function lowerKeys(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) {
    const lk = k.toLowerCase();
    if (!(lk in out)) out[lk] = v;
  }
  return out;
}

export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function optionalString(obj: Record<string, unknown>, key: string, field: string): string | undefined {
  const v = obj[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string')
    throw configError(field, `must be a string, got ${JSON.stringify(v)}`, 'quote it');
  return v;
}

export function optionalBool(
  obj: Record<string, unknown>,
  key: string,
  field: string,
  dflt: boolean,
): boolean {
  const v = obj[key];
  if (v === undefined || v === null) return dflt;
  if (typeof v !== 'boolean')
    throw configError(field, `must be true or false, got ${JSON.stringify(v)}`, 'use a JSON boolean');
  return v;
}

/** A SubnetLen-like field: undefined when absent or 0 (Go's zero value means "use the default"). */
export function optionalPrefixLen(
  obj: Record<string, unknown>,
  key: string,
  field: string,
  example: number,
): number | undefined {
  const v = obj[key];
  if (v === undefined || v === null || v === 0) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) {
    throw configError(
      field,
      `must be a whole number, got ${JSON.stringify(v)}`,
      `write e.g. "${field}": ${example}`,
    );
  }
  return v;
}
