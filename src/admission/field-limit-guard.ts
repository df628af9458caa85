import { defaultFieldResolver, isObjectType, type GraphQLSchema } from 'graphql';
import { clientError } from '../errors.js';
import type { FieldAllowances } from './field-allowances.js';
import { callGroupOf, callsPerCall, type FieldLimits } from './field-limits.js';
import { fieldRefusalMessage } from './refusal.js';

/**
 * Makes every rate-limited field take its call from the operation's allowances before it
 * resolves: a call beyond what admission granted is null with RATE_LIMITED and the seconds to
 * wait, while the rest of the operation runs. Callers without allowances (admins) are not limited.
 */
export function guardLimitedFields(schema: GraphQLSchema, limits: FieldLimits, allowancesOf: (context: unknown) => FieldAllowances | null): GraphQLSchema {
  for (const [coordinate, fieldLimits] of limits) {
    const [typeName, fieldName] = coordinate.split('.') as [string, string];
    const type = schema.getType(typeName);
    const field = isObjectType(type) ? type.getFields()[fieldName] : undefined;
    if (!field) continue;
    const resolve = field.resolve ?? defaultFieldResolver;
    field.resolve = (source, args: Record<string, unknown>, context, info) => {
      const allowances = allowancesOf(context);
      const refusal = allowances?.take(callGroupOf(coordinate, fieldLimits, args), callsPerCall(fieldLimits, args), fieldLimits);
      if (refusal) {
        throw clientError('RATE_LIMITED', fieldRefusalMessage(refusal), { retryAfter: refusal.retryAfterSeconds, field: coordinate });
      }
      return resolve(source, args, context, info);
    };
  }
  return schema;
}
