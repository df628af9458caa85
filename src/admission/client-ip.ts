import { isIPv6 } from 'node:net';

/**
 * The address of the client. Behind a trusted proxy it is the last X-Forwarded-For entry, the
 * one the proxy saw; earlier entries are the client's to invent.
 */
export function clientIp(trustProxy: boolean, forwardedFor: string | null | undefined, socketAddress: string | undefined): string | null {
  if (trustProxy) {
    const forwarded = forwardedFor?.split(',').at(-1)?.trim();
    if (forwarded) return forwarded;
  }
  return socketAddress ?? null;
}

/**
 * The address an anonymous caller's limits count under. One IPv6 host is usually given a whole
 * /64, so an IPv6 address counts by its first 64 bits (else each of its 2^64 addresses would
 * have a budget of its own); an IPv4 address (mapped into IPv6 or not) counts whole.
 */
export function addressIdentity(ip: string | null): string {
  if (!ip) return 'unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (!isIPv6(ip)) return ip;
  const [head = '', tail = ''] = ip.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const groups = ip.includes('::') ? [...left, ...Array(8 - left.length - right.length).fill('0'), ...right] : left;
  return `${groups.slice(0, 4).map((group) => group.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}
