import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { expect, it } from 'vitest';
import { drainServer } from '../../src/graceful-shutdown.js';
import { createTestApp } from '../helpers/test-app.js';

it('drains a request in flight before closing, and refuses new connections meanwhile', async () => {
  const t = await createTestApp('pglite');
  try {
    await new Promise<void>((resolve) => t.app.server.listen(0, '127.0.0.1', resolve));
    const { port } = t.app.server.address() as AddressInfo;

    // A request whose body arrives in two parts: it is in flight when the drain starts.
    const body = JSON.stringify({ query: '{ viewer { id } __typename }' });
    const socket = connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk));
    const ended = new Promise((resolve) => socket.once('close', resolve));
    socket.write(
      `POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 10)}`,
    );
    await new Promise((resolve) => setTimeout(resolve, 100));

    let drained = false;
    const drain = drainServer(t.app.server, 10_000, pino({ level: 'silent' })).then(() => (drained = true));
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(drained).toBe(false);
    await expect(fetch(`http://127.0.0.1:${port}/livez`)).rejects.toThrow();

    socket.write(body.slice(10));
    await drain;
    await ended;
    expect(answer).toMatch(/^HTTP\/1\.1 200/);
    expect(answer).toContain('"__typename":"Query"');
  } finally {
    await t.close();
  }
});

it('cuts connections that outlive the drain timeout', async () => {
  const t = await createTestApp('pglite');
  try {
    await new Promise<void>((resolve) => t.app.server.listen(0, '127.0.0.1', resolve));
    const { port } = t.app.server.address() as AddressInfo;
    const socket = connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    const ended = new Promise((resolve) => socket.once('close', resolve));
    socket.write('POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{');
    await new Promise((resolve) => setTimeout(resolve, 100));
    await drainServer(t.app.server, 300, pino({ level: 'silent' }));
    await ended;
  } finally {
    await t.close();
  }
});
