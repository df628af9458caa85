/** The query of the cached-hit benchmark: the 20-memory list with context and relevance. */
export const LIST_QUERY =
  'query List($id: ID!) { context(id: $id) { memories(first: 20) { edges { node { id content context { name } relevance(contextId: $id) { score } } } } } }';
