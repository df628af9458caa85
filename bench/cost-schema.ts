/**
 * Operations costed as admission costs them, on the schema built as src/app.ts builds it:
 * `loadTypeDefs`, `withCacheControl`, `createSchema` with the resolvers, `readFieldLimits`.
 */
import { getDirectiveValues, isObjectType } from 'graphql';
import { createSchema } from 'graphql-yoga';
import { resolvers } from '../resolvers/index.js';
import { readFieldLimits } from '../src/admission/field-limits.js';
import { operationCost, type OperationCost } from '../src/admission/operation-cost.js';
import { createDocumentMemo } from '../src/admission/operation-document.js';
import { loadTypeDefs } from '../src/app.js';
import type { Config } from '../src/config.js';
import { cacheControlOverrides, withCacheControl } from '../src/schema/cache-control.js';

export function createCoster(config: Config) {
  const schema = createSchema({ typeDefs: withCacheControl(loadTypeDefs(), cacheControlOverrides(config)), resolvers });
  const limits = readFieldLimits(schema);
  const options = { defaultPageSize: config.DEFAULT_PAGE_SIZE, maxPageSize: config.MAX_PAGE_SIZE };
  const memo = createDocumentMemo(config.MAX_QUERY_TOKENS);
  return {
    schema,
    limits,
    options,
    /** The operation's cost, its document through `memo` (a fresh memo parses it again). */
    cost(query: string, operationName: string | undefined, variables: Record<string, unknown>, documents = memo): OperationCost {
      return operationCost(schema, documents.parse(query), operationName, variables, limits, options);
    },
    /** Every `@cost` of the SDL, e.g. "Memory.metadata 2", "PageInfo 0". */
    weights(): string[] {
      const cost = schema.getDirective('cost')!;
      const found: string[] = [];
      for (const type of Object.values(schema.getTypeMap())) {
        if (!isObjectType(type) || type.name.startsWith('__')) continue;
        const onType = type.astNode && getDirectiveValues(cost, type.astNode);
        if (onType) found.push(`${type.name} ${onType['weight']}`);
        for (const field of Object.values(type.getFields())) {
          const onField = field.astNode && getDirectiveValues(cost, field.astNode);
          if (onField) found.push(`${type.name}.${field.name} ${onField['weight']}`);
        }
      }
      return found;
    },
    /** The largest n in 1..max for which `queryOf(n)` costs at most `points`; 0 if none does. */
    largest(queryOf: (n: number) => string, variables: Record<string, unknown>, points: number, max: number): number {
      let best = 0;
      for (let n = 1; n <= max; n++) if (this.cost(queryOf(n), undefined, variables).points <= points) best = n;
      return best;
    },
  };
}

export type Coster = ReturnType<typeof createCoster>;
