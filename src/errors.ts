import { GraphQLError } from 'graphql';

/** The `extensions.code` values clients can rely on. */
export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'BAD_USER_INPUT'
  | 'CONFLICT'
  | 'EMAIL_TAKEN'
  | 'INVALID_CREDENTIALS'
  | 'SUBSCRIPTION_LAGGING'
  | 'RATE_LIMITED'
  | 'CACHE_UNAVAILABLE';

/** An expected failure reported in a mutation payload's `errors`. */
export interface UserError {
  code: ErrorCode;
  message: string;
  field?: string[];
}

const HTTP_STATUS: Partial<Record<ErrorCode, number>> = { UNAUTHENTICATED: 401, CACHE_UNAVAILABLE: 503 };

/** An expected failure of a query; it is shown to clients as is, never masked. */
export function clientError(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}): GraphQLError {
  const status = HTTP_STATUS[code];
  return new GraphQLError(message, {
    extensions: {
      code,
      ...extensions,
      ...(status === undefined
        ? {}
        : { http: { status, headers: code === 'UNAUTHENTICATED' ? { 'WWW-Authenticate': 'Bearer' } : {} } }),
    },
  });
}

export const authenticationRequired = (): GraphQLError =>
  clientError('UNAUTHENTICATED', 'Authentication required: send Authorization: Bearer <token> from signUp or login.');

export const notFound = (typename: string, field?: string[]): UserError => ({
  code: 'NOT_FOUND',
  message: `No ${typename} with this id.`,
  ...(field ? { field } : {}),
});

/** An `expectedVersion` that no longer matches: the client should read again and retry. */
export const versionConflict = (typename: string, current: number, expected: number | null | undefined): UserError => ({
  code: 'CONFLICT',
  message: `The ${typename} is at version ${current}, not ${expected}; read it again and retry.`,
  field: ['expectedVersion'],
});
