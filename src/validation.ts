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

/**
 * Why an operation's variables (or any client JSON of that shape) must be refused (the message
 * of a BAD_USER_INPUT refusal), or null: text
 * holding U+0000, or a variable nested deeper than `maxDepth` objects and lists. The walk keeps
 * its own stack: the values are the client's, and a recursive walk overflows on a 10 KB body.
 */
export function variablesProblem(variables: unknown, maxDepth: number): string | null {
  if (variables === null || typeof variables !== 'object') return null;
  for (const [name, value] of Object.entries(variables)) {
    if (name.includes('\0')) return NUL_MESSAGE;
    const stack: Array<{ value: unknown; depth: number }> = [{ value, depth: 0 }];
    for (let next = stack.pop(); next; next = stack.pop()) {
      const item = next.value;
      if (typeof item === 'string') {
        if (item.includes('\0')) return NUL_MESSAGE;
        continue;
      }
      if (item === null || typeof item !== 'object') continue;
      if (next.depth >= maxDepth) {
        return `Variable "$${name}" is nested deeper than ${maxDepth} levels (MAX_VARIABLE_DEPTH).`;
      }
      for (const [key, child] of Object.entries(item)) {
        if (key.includes('\0')) return NUL_MESSAGE;
        stack.push({ value: child, depth: next.depth + 1 });
      }
    }
  }
  return null;
}
