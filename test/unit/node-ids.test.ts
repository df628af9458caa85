import { getNamedType, isInterfaceType, isObjectType } from 'graphql';
import { createSchema } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import { resolvers } from '../../resolvers/index.js';
import { loadTypeDefs } from '../../src/app.js';
import { createIdGenerator, kindOf } from '../../src/ids.js';
import { parseRelevanceScoreId, relevanceScoreId } from '../../src/relevance/relevance-score.js';

const schema = createSchema({ typeDefs: loadTypeDefs(), resolvers });
const newId = createIdGenerator(() => Date.now());

describe('ids of nodes', () => {
  it('name their kind', () => {
    for (const kind of ['usr', 'ctx', 'mem', 'ses', 'evt'] as const) expect(kindOf(newId(kind))).toBe(kind);
    for (const value of ['', 'mem_', 'mem_123', 'xyz_01JD3ABCDEFGHJKMNPQRSTVWXY', `${newId('mem')}x`, ` ${newId('mem')}`]) expect(kindOf(value)).toBeNull();
  });

  it("read a score's id back, and nothing else as one", () => {
    const [user, context, memory] = [newId('usr'), newId('ctx'), newId('mem')];
    const id = relevanceScoreId(user, context, memory);
    expect(kindOf(id)).toBeNull();
    expect(parseRelevanceScoreId(id)).toEqual({ userId: user, contextId: context, memoryId: memory });
    const forged = (text: string) => Buffer.from(text).toString('base64url');
    for (const value of [
      memory,
      'not base64!',
      forged(`RelevanceScore:${user}:${context}`),
      forged(`RelevanceScore:${user}:${context}:${memory}:x`),
      forged(`RelevanceScore:${context}:${user}:${memory}`),
      forged(`Other:${user}:${context}:${memory}`),
      `${id}=`,
    ]) {
      expect(parseRelevanceScoreId(value)).toBeNull();
    }
  });

  it('are carried by Node types only: no connection, edge or payload has an id', () => {
    const node = schema.getType('Node');
    if (!isInterfaceType(node)) throw new Error('Node is not an interface');
    const withId = Object.values(schema.getTypeMap())
      .filter((type) => isObjectType(type) && !type.name.startsWith('__') && 'id' in type.getFields())
      .map((type) => type.name)
      .sort();
    const nodes = schema.getImplementations(node).objects.map((type) => type.name).sort();
    expect(nodes).toEqual(['ApiKey', 'Context', 'Memory', 'MemoryEvent', 'RelevanceScore', 'Session', 'User']);
    // A CacheInvalidation's id is a stream position (`<ms>-<seq>`), never an entity's; an
    // EntityRef names an entity (typename and id) for a client to evict.
    expect(withId).toEqual([...nodes, 'CacheInvalidation', 'EntityRef'].sort());
    for (const name of withId) {
      const type = schema.getType(name);
      if (isObjectType(type)) expect(getNamedType(type.getFields()['id']!.type).name).toBe('ID');
    }
  });
});
