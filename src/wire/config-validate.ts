// In wire/: the lowest layer lb/, nat/ and control/ all may import, and it already parses user text (addr.ts).
//
// Field checks for documents users write (node config, services, egress policies), one set of messages
// for all: validator(ErrorClass) gives checks that throw ErrorClass("<field path>: <what is wrong>").
// Declare the result with its type (`const v: Validator = validator(ConfigError)`): TypeScript narrows
// after `v.fail(...)` only through a name declared with an explicit type.
import { parseAddress, parsePrefix, type Address, type Prefix } from './addr.js';

export type Obj = Record<string, unknown>;
export type ErrorClass = new (message: string) => Error;

export interface Validator {
  fail(where: string, msg: string): never;
  /** A mapping; absent: "missing field". */
  obj(v: unknown, where: string): Obj;
  /** Refuses fields not in `allowed`, suggesting a near one (a typo such as `spec.egres`). */
  only(o: Obj, where: string, allowed: readonly string[]): void;
  /** A non-empty string, matching `re` when given. */
  str(v: unknown, where: string, re?: RegExp): string;
  /** An integer in min..max; `def` when absent (if given). */
  int(v: unknown, where: string, min: number, max: number, def?: number): number;
  /** true or false; `def` when absent (if given). */
  bool(v: unknown, where: string, def?: boolean): boolean;
  /** One of `choices`; absent: `def` if given, else "missing field". */
  oneOf<T extends string>(v: unknown, where: string, choices: readonly T[], def?: T): T;
  /** An optional list (absent: empty); `of` names what it holds in the message. */
  list(v: unknown, where: string, of?: string): unknown[];
  /** A list that must be there and hold something. */
  nonEmptyList(v: unknown, where: string): unknown[];
  /** An IPv4 or IPv6 address, or one of `family`. */
  address(v: unknown, where: string, family?: 4 | 6): Address;
  /** "198.18.0.0/24", "2001:db8::/32" (a bare address is a host prefix), of `family` when given. */
  prefix(v: unknown, where: string, opts: { allowHostBits: boolean; family?: 4 | 6 }): Prefix;
}

/** `where.field`, or `field` at the top of a document (where = ''). */
export function fieldPath(where: string, field: string): string {
  return where === '' ? field : `${where}.${field}`;
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let prev = d[0]!;
    d[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const t = d[j]!;
      d[j] = Math.min(d[j]! + 1, d[j - 1]! + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = t;
    }
  }
  return d[b.length]!;
}

export function validator(ErrorClass: ErrorClass): Validator {
  function fail(where: string, msg: string): never {
    throw new ErrorClass(`${where}: ${msg}`);
  }
  const v: Validator = {
    fail,
    obj(x, where) {
      if (x === undefined) fail(where, 'missing field');
      if (typeof x !== 'object' || x === null || Array.isArray(x)) fail(where, 'must be a mapping');
      return x as Obj;
    },
    only(o, where, allowed) {
      for (const k of Object.keys(o)) {
        if (allowed.includes(k)) continue;
        const near = allowed.find((a) => editDistance(a.toLowerCase(), k.toLowerCase()) <= 2);
        const hint = near ? `; did you mean ${near}?` : '';
        fail(fieldPath(where, k), `unknown field (expected one of: ${allowed.join(', ')})${hint}`);
      }
    },
    str(x, where, re) {
      if (typeof x !== 'string' || x === '') fail(where, 'must be a non-empty string');
      if (re && !re.test(x)) fail(where, `"${x}" is not a valid name`);
      return x;
    },
    int(x, where, min, max, def) {
      if (x === undefined && def !== undefined) return def;
      if (typeof x !== 'number' || !Number.isInteger(x) || x < min || x > max) {
        fail(where, `must be an integer in ${min}..${max}, got ${JSON.stringify(x)}`);
      }
      return x;
    },
    bool(x, where, def) {
      if (x === undefined && def !== undefined) return def;
      if (typeof x !== 'boolean') fail(where, `must be true or false, got ${JSON.stringify(x)}`);
      return x;
    },
    oneOf(x, where, choices, def) {
      if (x === undefined) return def ?? fail(where, 'missing field');
      if (!choices.includes(x as never)) fail(where, `${JSON.stringify(x)} is not one of ${choices.join(', ')}`);
      return x as (typeof choices)[number];
    },
    list(x, where, of) {
      if (x === undefined) return [];
      if (!Array.isArray(x)) fail(where, `must be a list${of ? ` of ${of}` : ''}`);
      return x;
    },
    nonEmptyList(x, where) {
      if (x === undefined || x === null) fail(where, 'missing field');
      if (!Array.isArray(x)) fail(where, 'must be a list');
      if (x.length === 0) fail(where, 'must not be empty');
      return x;
    },
    address(x, where, family) {
      const a = typeof x === 'string' ? parseAddress(x) : null;
      if (!a || (family && a.family !== family)) {
        fail(where, `${JSON.stringify(x)} is not an IPv${family ?? '4 or IPv6'} address`);
      }
      return a;
    },
    prefix(x, where, { allowHostBits, family }) {
      const p = typeof x === 'string' ? parsePrefix(x, { allowHostBits }) : `${JSON.stringify(x)} is not a CIDR`;
      if (typeof p === 'string') fail(where, p);
      if (family && p.family !== family) fail(where, `must be an IPv${family} prefix`);
      return p;
    },
  };
  return v;
}
