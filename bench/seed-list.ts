/** Sends one operation through the app under measure and returns its data. */
type Send = (query: string, variables: Record<string, unknown>, token?: string) => Promise<any>;

/**
 * The data every server of the list benchmarks answers with: a user, their context and its 20
 * memories, made through the app's own API.
 */
export async function seedList(gql: Send): Promise<{ token: string; contextId: string }> {
  const token: string = (await gql('mutation { signUp(input: { email: "bench@example.com", password: "bench password" }) { token } }', {})).signUp.token;
  const contextId: string = (await gql('mutation { createContext(input: { name: "Kitchen", description: "pasta recipes" }) { context { id } } }', {}, token)).createContext
    .context.id;
  await gql(
    'mutation ($input: AddMemoriesInput!) { addMemories(input: $input) { memories { id } } }',
    { input: { contextId, items: Array.from({ length: 20 }, (_, i) => ({ content: `note ${i} about pasta and sauces` })) } },
    token,
  );
  return { token, contextId };
}
