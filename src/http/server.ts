import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export type RequestListener = (req: IncomingMessage, res: ServerResponse) => void;

/**
 * The node:http front of the app. It refuses oversized bodies before anyone reads them: a body
 * must declare its length (node's parser then reads no more than that), and the length must fit.
 */
export function createHttpServer(handle: RequestListener, maxBodyBytes: number): Server {
  return createServer((req, res) => {
    if (req.method === 'GET' && (req.url === '/' || req.url === '')) {
      res.writeHead(302, { location: '/graphql' }).end();
      return;
    }
    const refusal = bodyRefusal(req, maxBodyBytes);
    if (refusal) {
      // The unread body would corrupt the next request on a kept-alive connection.
      res.writeHead(refusal.status, { 'content-type': 'application/json; charset=utf-8', connection: 'close' });
      res.end(JSON.stringify({ errors: [{ message: refusal.message, extensions: { code: refusal.code } }] }));
      return;
    }
    handle(req, res);
  });
}

function bodyRefusal(req: IncomingMessage, maxBodyBytes: number) {
  const hasBody = req.headers['transfer-encoding'] !== undefined || req.headers['content-length'] !== undefined;
  if (!hasBody) return null;
  const declared = Number(req.headers['content-length']);
  if (req.headers['content-length'] === undefined || !Number.isFinite(declared)) {
    return { status: 411, code: 'LENGTH_REQUIRED', message: 'Send the request body with a Content-Length header.' };
  }
  if (declared > maxBodyBytes) {
    return {
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
      message: `The request body is ${declared} bytes; the limit is ${maxBodyBytes} (MAX_BODY_BYTES).`,
    };
  }
  return null;
}
