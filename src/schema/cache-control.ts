import { Kind, parse, visit, type ConstDirectiveNode, type DocumentNode } from 'graphql';
import type { Config } from '../config.js';

/** Schema coordinates whose @cacheControl(maxAge) a setting may override. */
export function cacheControlOverrides(config: Config): Record<string, number | undefined> {
  return {
    Memory: config.RESPONSE_CACHE_TTL_MEMORY_SECONDS,
    RelevanceScore: config.RESPONSE_CACHE_TTL_SCORE_SECONDS,
    MemorySearchConnection: config.RESPONSE_CACHE_TTL_SCORE_SECONDS,
    'Query.viewer': config.RESPONSE_CACHE_TTL_VIEWER_SECONDS,
    Session: config.RESPONSE_CACHE_TTL_VIEWER_SECONDS,
  };
}

/**
 * Parses the SDL and replaces the maxAge of the @cacheControl directives named in `overrides`:
 * the SDL holds the defaults, the environment may change them.
 */
export function withCacheControl(typeDefs: readonly string[], overrides: Record<string, number | undefined>): DocumentNode[] {
  const rewrite = (coordinate: string, directives: readonly ConstDirectiveNode[] | undefined) => {
    const maxAge = overrides[coordinate];
    if (maxAge === undefined || !directives) return undefined;
    return directives.map((directive) =>
      directive.name.value !== 'cacheControl'
        ? directive
        : {
            ...directive,
            arguments: [
              ...(directive.arguments ?? []).filter((argument) => argument.name.value !== 'maxAge'),
              { kind: Kind.ARGUMENT, name: { kind: Kind.NAME, value: 'maxAge' }, value: { kind: Kind.INT, value: String(maxAge) } },
            ],
          },
    ) as ConstDirectiveNode[];
  };
  return typeDefs.map((source) => {
    let typeName = '';
    return visit(parse(source), {
      ObjectTypeDefinition(node) {
        typeName = node.name.value;
        const directives = rewrite(typeName, node.directives);
        return directives ? { ...node, directives } : undefined;
      },
      ObjectTypeExtension(node) {
        typeName = node.name.value;
      },
      FieldDefinition(node) {
        const directives = rewrite(`${typeName}.${node.name.value}`, node.directives);
        return directives ? { ...node, directives } : undefined;
      },
    });
  });
}
