import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { createApp, type App } from '../../src/app.js';
import { createTestClock, type TestClock } from './test-clock.js';
import { createTestDatabase, type Backend, type TestDatabase } from './test-database.js';

export interface GraphQLResponse<Data = any> {
  status: number;
  headers: Headers;
  data: Data;
  errors?: Array<{ message: string; path?: string[]; extensions?: Record<string, any> }>;
}

export interface TestUser {
  id: string;
  email: string;
  token: string;
}

export interface TestApp {
  app: App;
  database: TestDatabase;
  clock: TestClock;
  /** Sends one GraphQL operation through yoga (no socket). */
  gql<Data = any>(
    query: string,
    variables?: Record<string, unknown>,
    options?: { token?: string; headers?: Record<string, string> },
  ): Promise<GraphQLResponse<Data>>;
  /** Signs up a new user with a unique email. */
  newUser(name?: string): Promise<TestUser>;
  /** Logs the user in again and returns the new token. */
  login(user: TestUser): Promise<string>;
  /** Runs `work` and returns the SQL statements it sent. */
  countStatements(work: () => Promise<unknown>): Promise<string[]>;
  close(): Promise<void>;
}

export const TEST_PASSWORD = 'correct horse battery';

export async function createTestApp(backend: Backend, env: Record<string, string> = {}): Promise<TestApp> {
  const database = await createTestDatabase(backend, env);
  const clock = createTestClock();
  const app = createApp({ config: database.config, db: database.db, clock, logger: pino({ level: 'silent' }) });

  const gql: TestApp['gql'] = async (query, variables, options = {}) => {
    const response = await app.yoga.fetch('http://recall.test/graphql', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json',
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...options.headers,
      },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await response.json()) as { data: any; errors?: GraphQLResponse['errors'] };
    return { status: response.status, headers: response.headers, data: body.data, errors: body.errors };
  };

  return {
    app,
    database,
    clock,
    gql,
    async newUser(name = 'Test User') {
      const email = `user-${randomBytes(5).toString('hex')}@example.com`;
      const result = await gql(
        `mutation ($input: SignUpInput!) { signUp(input: $input) { token user { id } errors { code message } } }`,
        { input: { email, password: TEST_PASSWORD, name } },
      );
      const payload = result.data?.signUp;
      if (!payload?.token) throw new Error(`signUp failed: ${JSON.stringify(result)}`);
      return { id: payload.user.id, email, token: payload.token };
    },
    async login(user) {
      const result = await gql(`mutation ($input: LoginInput!) { login(input: $input) { token errors { code } } }`, {
        input: { email: user.email, password: TEST_PASSWORD },
      });
      const token = result.data?.login?.token;
      if (!token) throw new Error(`login failed: ${JSON.stringify(result)}`);
      return token;
    },
    async countStatements(work) {
      database.statements.length = 0;
      await work();
      return [...database.statements];
    },
    close: () => database.drop(),
  };
}
