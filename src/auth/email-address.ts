import { domainToASCII } from 'node:url';

/**
 * A local part as RFC 5321's dot-atom: atext runs joined by single dots, where RFC 6531 adds any
 * non-ASCII character to atext (control and space characters aside). Quoted local parts
 * ("a b"@example.com) are refused: legal, but no mail provider hands them out.
 */
const LOCAL_PART = /^(?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]|[^\p{ASCII}\p{C}\p{Z}])+(?:\.(?:[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]|[^\p{ASCII}\p{C}\p{Z}])+)*$/u;

/** The ASCII a domain may be written with; other characters are left to IDNA to map or refuse. */
const DOMAIN_ASCII = /^(?:[A-Za-z0-9.-]|[^\p{ASCII}])+$/u;

/** A host name label (RFC 1035, as RFC 5321 requires): letters, digits and inner hyphens, 1 to 63 of them. */
const LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * Whether `address` is a mailbox address as RFC 5321 bounds it: a local part of at most 64 octets,
 * a domain of at least two labels of 1 to 63 characters, at most 254 octets in all. An
 * internationalised domain is checked in its ASCII (punycode) form, the one sent over the wire.
 */
export function isEmailAddress(address: string): boolean {
  const at = address.lastIndexOf('@');
  if (at < 1) return false;
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  if (Buffer.byteLength(local) > 64 || !LOCAL_PART.test(local)) return false;
  // domainToASCII parses as a URL host does (percent-decoding, reading `0x7f.1` as an IPv4
  // address), so the characters are checked before it sees them.
  if (!DOMAIN_ASCII.test(domain)) return false;
  const ascii = domainToASCII(domain);
  if (ascii === '' || Buffer.byteLength(local) + 1 + ascii.length > 254) return false;
  const labels = ascii.split('.');
  // An all-numeric last label would read as an IP address (RFC 3696 §2).
  return labels.length >= 2 && labels.every((label) => LABEL.test(label)) && !/^\d+$/.test(labels.at(-1)!);
}
