import type { GraphiQLOptions } from 'graphql-yoga';

/**
 * GraphiQL as Recall serves it: the page comes from @graphql-yoga/render-graphiql, which inlines
 * every script, style and worker (no CDN, so it works offline and behind strict firewalls), and
 * opens on a short guide to authenticating.
 */

const GUIDE = `# Welcome to Recall.
#
# To act as a user: run SignUp (or login),
# copy the token from its answer, and put it
# in the Headers tab below:
#
#   { "Authorization": "Bearer <token>" }
#
# Subscriptions run here too (over SSE, with
# the same header), for example:
#
#   subscription {
#     cacheInvalidated { reason entities { typename id } }
#   }

mutation SignUp {
  signUp(input: { email: "you@example.com", password: "a long passphrase" }) {
    token
    user { id email }
    errors { code message }
  }
}

query Me {
  viewer { id email name tier }
  contexts(first: 10) { edges { node { id name } } }
}
`;

export const graphiqlOptions: GraphiQLOptions = {
  title: 'Recall',
  defaultQuery: GUIDE,
  // The token goes in the headers: the pane starts open, and what is typed there stays for the next visit.
  defaultEditorToolsVisibility: 'headers',
  shouldPersistHeaders: true,
  subscriptionsProtocol: 'SSE',
};

let page: Promise<string> | undefined;

/**
 * Renders the page once, on first use: the renderer is a 9 MB module, which a server nobody
 * opens GraphiQL on should neither load nor keep.
 */
export function renderGraphiQL(options: GraphiQLOptions): Promise<string> {
  page ??= import('@graphql-yoga/render-graphiql').then(
    ({ renderGraphiQL: render }) => render(options),
    (error: unknown) => {
      page = undefined; // the next visit tries again
      throw error;
    },
  );
  return page;
}
