import type { Resolvers } from '../src/__generated__/resolvers-types.js';
import { findNode, findNodes, nodeTypename } from '../src/services/nodes.js';

export const nodeResolvers: Resolvers = {
  Query: {
    node: (_parent, { id }, ctx) => findNode(ctx, id),
    nodes: (_parent, { ids }, ctx) => findNodes(ctx, ids),
  },
  Node: {
    __resolveType: (node) => nodeTypename(node),
  },
};
