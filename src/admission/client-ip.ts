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
