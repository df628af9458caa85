import { DateTimeResolver, JSONResolver } from 'graphql-scalars';
import type { Resolvers } from '../src/__generated__/resolvers-types.js';

export const scalarResolvers: Resolvers = {
  DateTime: DateTimeResolver,
  JSON: JSONResolver,
};
