import { hash } from 'node:crypto';
import { getDirectiveValues, GraphQLDirective, isObjectType, type GraphQLField, type GraphQLSchema } from 'graphql';

/** One @rateLimit of a field: at most `max` calls per `windowMs`, per caller and per value of `identityArgs`. */
export interface FieldLimit {
  /** The field's schema coordinate, e.g. Mutation.login. */
  field: string;
  /** Which of the field's limits this is (the directive is repeatable), in SDL order. */
  index: number;
  max: number;
  windowMs: number;
  /** Dotted paths into the arguments whose values have counts of their own (`input.email`). */
  identityArgs: string[];
  /** A list argument whose length is the number of calls one call counts for. */
  arrayLengthField: string | null;
  per: 'VIEWER' | 'ADDRESS';
  message: string | null;
}

/** The limits of every limited field, by coordinate. */
export type FieldLimits = ReadonlyMap<string, readonly FieldLimit[]>;

/** A setting that replaces one limit of the SDL: `max/window`, e.g. `5/15m`. */
export interface FieldLimitOverride {
  field: string;
  index: number;
  value: string | undefined;
}

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A window as @envelop/rate-limiter writes it ("15m", "1h", "10s"; a bare number is seconds), in ms. */
export function parseWindow(window: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(window.trim());
  if (!match) throw new Error(`"${window}" is not a rate-limit window (e.g. 10s, 15m, 1h)`);
  // Whole milliseconds: Redis expiries take integers.
  const ms = Math.round(Number(match[1]) * UNITS[match[2] ?? 's']!);
  if (!(ms >= 1)) throw new Error(`"${window}" is not a rate-limit window (e.g. 10s, 15m, 1h)`);
  return ms;
}

/** `max/window` (e.g. `5/15m`), as the RATE_LIMIT_* settings give it. */
export function parseLimitSetting(value: string): { max: number; windowMs: number } {
  const [max, window, ...rest] = value.split('/');
  if (rest.length > 0 || !max || !window || !/^\d+$/.test(max.trim())) throw new Error(`"${value}" is not max/window (e.g. 5/15m)`);
  return { max: Number(max), windowMs: parseWindow(window) };
}

/** Reads every @rateLimit of the schema, with the settings that override them. */
export function readFieldLimits(schema: GraphQLSchema, overrides: readonly FieldLimitOverride[] = []): FieldLimits {
  const directive = schema.getDirective('rateLimit');
  const limits = new Map<string, FieldLimit[]>();
  if (!directive) return limits;
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields())) {
      const declared = directivesOf(directive, field);
      if (declared.length > 0) limits.set(`${type.name}.${field.name}`, declared.map((values, index) => limitOf(`${type.name}.${field.name}`, index, values)));
    }
  }
  for (const override of overrides) {
    if (override.value === undefined) continue;
    const limit = limits.get(override.field)?.[override.index];
    if (!limit) throw new Error(`${override.field} has no @rateLimit number ${override.index + 1} to override`);
    Object.assign(limit, parseLimitSetting(override.value));
  }
  return limits;
}

function directivesOf(directive: GraphQLDirective, field: GraphQLField<unknown, unknown>): Record<string, unknown>[] {
  // getDirectiveValues reads one use; the directive is repeatable, so each use is read on its own.
  const uses = field.astNode?.directives?.filter((use) => use.name.value === directive.name) ?? [];
  return uses.map((use) => getDirectiveValues(directive, { directives: [use] }) ?? {});
}

function limitOf(field: string, index: number, values: Record<string, unknown>): FieldLimit {
  // Recall never counts a refused call, and every limit counts: say so rather than ignore the ask.
  if (values['readOnly'] === true || values['uncountRejected'] === false) {
    throw new Error(`${field}: @rateLimit's readOnly and uncountRejected: false are not supported (refused calls are never counted)`);
  }
  return {
    field,
    index,
    max: typeof values['max'] === 'number' ? values['max'] : 5,
    windowMs: parseWindow(typeof values['window'] === 'string' ? values['window'] : '60s'),
    identityArgs: Array.isArray(values['identityArgs']) ? values['identityArgs'].filter((arg): arg is string => typeof arg === 'string') : [],
    arrayLengthField: typeof values['arrayLengthField'] === 'string' ? values['arrayLengthField'] : null,
    per: values['per'] === 'ADDRESS' ? 'ADDRESS' : 'VIEWER',
    message: typeof values['message'] === 'string' ? values['message'] : null,
  };
}

/** The value at a dotted path of the arguments. */
export function argumentAt(args: Record<string, unknown>, path: string): unknown {
  let value: unknown = args;
  for (const part of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/**
 * What tells one limit's counts apart within a caller's: a hash of its identity arguments'
 * values (strings compared without case or surrounding space, as emails are), so that the key
 * holds no address in clear; '' when it has none.
 */
export function identityOf(limit: FieldLimit, args: Record<string, unknown>): string {
  if (limit.identityArgs.length === 0) return '';
  const values = limit.identityArgs.map((path) => {
    const value = argumentAt(args, path);
    return typeof value === 'string' ? value.trim().toLowerCase() : (value ?? null);
  });
  return hash('sha256', JSON.stringify(values), 'base64url').slice(0, 22);
}

/** How many calls one call of a field counts for: the length of its `arrayLengthField`, else 1. */
export function callsPerCall(limits: readonly FieldLimit[], args: Record<string, unknown>): number {
  const path = limits.find((limit) => limit.arrayLengthField)?.arrayLengthField;
  if (!path) return 1;
  const list = argumentAt(args, path);
  return Array.isArray(list) ? list.length : 1;
}

/** The calls of a field that share counts: the same field and the same identity under each of its limits. */
export const callGroupOf = (field: string, limits: readonly FieldLimit[], args: Record<string, unknown>): string =>
  [field, ...limits.map((limit) => identityOf(limit, args))].join('|');
