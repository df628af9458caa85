import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { lengthRequired, payloadTooLarge, type Refusal } from '../admission/refusal.js';
import { refusalReply } from './reply.js';

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
      const reply = refusalReply(refusal, req.headers.accept);
      // The unread body would corrupt the next request on a kept-alive connection.
      res.writeHead(reply.status, { ...reply.headers, connection: 'close' }).end(reply.body);
      return;
    }
    handle(req, res);
  });
}

function bodyRefusal(req: IncomingMessage, maxBodyBytes: number): Refusal | null {
  const hasBody = req.headers['transfer-encoding'] !== undefined || req.headers['content-length'] !== undefined;
  if (!hasBody) return null;
  const declared = Number(req.headers['content-length']);
  if (req.headers['content-length'] === undefined || !Number.isFinite(declared)) return lengthRequired();
  return declared > maxBodyBytes ? payloadTooLarge(declared, maxBodyBytes) : null;
}
