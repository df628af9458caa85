import { GraphQLError } from 'graphql';
import type { z } from 'zod';
import type { UserError } from './errors.js';
import { clientError } from './errors.js';

export type Parsed<T> = { ok: true; value: T } | { ok: false; errors: UserError[] };

/** Validates a mutation input; every problem becomes a BAD_USER_INPUT error with its field path. */
export function parseInput<T>(schema: z.ZodType<T>, input: unknown, root: string[] = []): Parsed<T> {
  const result = schema.safeParse(input);
  if (result.success) return { ok: true, value: result.data };
  return {
    ok: false,
    errors: result.error.issues.map((issue) => ({
      code: 'BAD_USER_INPUT',
      message: issue.message,
      field: [...root, ...issue.path.map(String)],
    })),
  };
}

/** Validates query arguments; the first problem becomes a BAD_USER_INPUT GraphQL error. */
export function parseArgs<T>(schema: z.ZodType<T>, args: unknown): T {
  const result = schema.safeParse(args);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const name = issue.path.map(String).join('.');
  throw clientError('BAD_USER_INPUT', name ? `${name}: ${issue.message}` : issue.message, {
    field: issue.path.map(String),
  });
}

const NUL_MESSAGE = 'Text must not contain NUL (\\u0000) characters: PostgreSQL cannot store them.';

/** The refusal of text with U+0000, which PostgreSQL text and jsonb cannot hold. */
export const nulRefusal = (): GraphQLError =>
  new GraphQLError(NUL_MESSAGE, { extensions: { code: 'BAD_USER_INPUT', http: { status: 400 } } });

export function containsNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\0');
  if (Array.isArray(value)) return value.some(containsNul);
  if (value !== null && typeof value === 'object') {
    return Object.entries(value).some(([key, item]) => key.includes('\0') || containsNul(item));
  }
  return false;
}
