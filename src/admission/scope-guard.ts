import { defaultFieldResolver, getDirectiveValues, isObjectType, type GraphQLFieldResolver, type GraphQLSchema } from 'graphql';
import type { ApiKeyScope } from '../domain/enums.js';
import { clientError } from '../errors.js';
import type { Viewer } from '../request-scope.js';

/**
 * What a type's scope leaves open: the identity of an entity, which a key needs of what it wrote
 * (the ids of new memories, the version to update against) and which shows nothing it did not send.
 */
const IDENTITY_FIELDS: ReadonlySet<string> = new Set(['id', 'version', '__typename']);

/**
 * Makes every field that `@requireScope` names (on the field, or on its type but for its
 * identity: `id`, `version`) refuse a viewer
 * whose credential lacks the scope: null with FORBIDDEN for that field, while the rest of the
 * operation runs. The one place scopes are enforced; resolvers never check them. Sessions hold
 * every scope; anonymous callers are left to the fields' own checks.
 */
export function guardScopedFields(schema: GraphQLSchema, viewerOf: (context: unknown) => Viewer | null): GraphQLSchema {
  const directive = schema.getDirective('requireScope');
  if (!directive) return schema;
  const scopeOf = (node: Parameters<typeof getDirectiveValues>[1]) => getDirectiveValues(directive, node)?.['scope'] as ApiKeyScope | undefined;

  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    const typeScope = type.astNode ? scopeOf(type.astNode) : undefined;
    for (const field of Object.values(type.getFields())) {
      const scope = (field.astNode ? scopeOf(field.astNode) : undefined) ?? (IDENTITY_FIELDS.has(field.name) ? undefined : typeScope);
      if (!scope) continue;
      const coordinate = `${type.name}.${field.name}`;
      const guard =
        (next: GraphQLFieldResolver<unknown, unknown>): GraphQLFieldResolver<unknown, unknown> =>
        (source, args, context, info) => {
          const viewer = viewerOf(context);
          if (viewer && !viewer.scopes.has(scope)) {
            throw clientError('FORBIDDEN', `This API key lacks the ${scope} scope, which ${coordinate} needs.`, { requiredScope: scope });
          }
          return next(source, args, context, info);
        };
      field.resolve = guard(field.resolve ?? defaultFieldResolver);
      // A subscription is refused before it starts, not at its first event.
      if (field.subscribe) field.subscribe = guard(field.subscribe);
    }
  }
  return schema;
}
