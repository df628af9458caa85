import { spawn } from 'node:child_process';
import { describe, expect, inject, it } from 'vitest';
import { freePort } from '../helpers/redis-server.js';
import { deploymentEnv, ROOT, runAdmin as run } from '../helpers/admin-cli.js';
import { createTestApp, TEST_PASSWORD } from '../helpers/test-app.js';

const ROLE = '{ viewer { role } }';

describe.runIf(inject('postgresUrl') && inject('redisUrl'))('the first admin', () => {
  it('`npm run admin -- create-admin` promotes a user, and their open sessions see it at once', async () => {
    const t = await createTestApp('postgres', { redisUrl: inject('redisUrl')! });
    try {
      const user = await t.newUser();
      expect((await t.gql(ROLE, {}, { token: user.token })).data.viewer.role).toBe('USER');

      const promoted = await run(['create-admin', '--email', user.email.toUpperCase(), '--json'], deploymentEnv(t));
      expect(promoted.code, promoted.stderr).toBe(0);
      expect(JSON.parse(promoted.stdout)).toEqual({ userId: user.id, email: user.email, created: false, promoted: true });
      // The cached session carried the old role: the change reached this running instance.
      expect((await t.gql(ROLE, {}, { token: user.token })).data.viewer.role).toBe('ADMIN');

      const again = await run(['create-admin', '--email', user.email], deploymentEnv(t));
      expect(again.stdout).toContain('already is an admin');

      const created = await run(['create-admin', '--email', 'new-admin@example.com', '--password-stdin', '--json'], deploymentEnv(t), `${TEST_PASSWORD}\n`);
      expect(created.code, created.stderr).toBe(0);
      expect(JSON.parse(created.stdout)).toMatchObject({ email: 'new-admin@example.com', created: true, promoted: true });
      const token = await t.login({ id: '', email: 'new-admin@example.com', token: '' });
      expect((await t.gql(ROLE, {}, { token })).data.viewer.role).toBe('ADMIN');

      const unknown = await run(['create-admin', '--email', 'nobody@example.com'], deploymentEnv(t));
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toContain('No user has the email nobody@example.com');
      const bad = await run(['create-admin'], deploymentEnv(t));
      expect(bad.code).not.toBe(0);
      expect(bad.stderr).toContain("required option '--email <email>'");
    } finally {
      await t.close();
    }
  });

  it('RECALL_ADMIN_EMAIL promotes that user when the server starts', async () => {
    const t = await createTestApp('postgres', { redisUrl: inject('redisUrl')! });
    const port = await freePort();
    const user = await t.newUser();
    const child = spawn('npm', ['start', '--silent'], {
      cwd: ROOT,
      env: { ...deploymentEnv(t), LOG_LEVEL: 'info', PORT: String(port), RECALL_ADMIN_EMAIL: user.email },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    const exited = new Promise((resolve) => child.on('exit', resolve));
    try {
      const deadline = Date.now() + 25_000;
      while (!output.includes('ready in') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
      expect(output).toContain(`RECALL_ADMIN_EMAIL: ${user.email} is now an admin`);
      const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${user.token}` },
        body: JSON.stringify({ query: ROLE }),
      });
      expect((await response.json()).data.viewer.role).toBe('ADMIN');
    } finally {
      process.kill(-child.pid!, 'SIGTERM');
      await exited;
      await t.close();
    }
  });
});
