import { describe, expect, it } from 'vitest';
import { isEmailAddress } from '../../src/auth/email-address.js';

describe('isEmailAddress', () => {
  it.each([
    'ann@example.com',
    'Ann.Lee+recall@Mail.Example.co.uk',
    "o'brien!#$%&*/=?^_`{|}~-@example.com",
    'ann@bücher.example',
    'ann@例え.テスト',
    'zoë@example.com',
    `${'a'.repeat(64)}@example.com`,
    `ann@${'a'.repeat(63)}.com`,
    'ann@xn--bcher-kva.example',
    'ann@1example.com',
    'ann@a-b.c0m',
    // 64 + 1 + 189 = 254 octets: the longest address.
    `${'a'.repeat(64)}@${['b'.repeat(63), 'c'.repeat(63), 'd'.repeat(61)].join('.')}`,
  ])('accepts %s', (address) => {
    expect(isEmailAddress(address)).toBe(true);
  });

  it.each([
    ['a domain label of 180 characters', `ann@${'a'.repeat(180)}.com`],
    ['a domain label of 64 characters', `ann@${'a'.repeat(64)}.com`],
    ['a punycode label over 63 characters', `ann@${'ü'.repeat(60)}.de`],
    ['a local part of 65 octets', `${'a'.repeat(65)}@example.com`],
    ['a local part of 66 octets in 33 characters', `${'é'.repeat(33)}@example.com`],
    ['255 octets in all', `${'a'.repeat(64)}@${['b'.repeat(63), 'c'.repeat(63), 'd'.repeat(62)].join('.')}`],
    ['a single label', 'ann@localhost'],
    ['an empty label', 'ann@example..com'],
    ['a trailing dot', 'ann@example.com.'],
    ['a leading hyphen', 'ann@-example.com'],
    ['a trailing hyphen', 'ann@example-.com'],
    ['an underscore', 'ann@ex_ample.com'],
    ['a numeric top-level label', 'ann@1.2.3.4'],
    ['a host URL parsing reads as an IPv4 address', 'ann@0x7f.1'],
    ['a percent-encoded domain', 'ann@ex%61mple.com'],
    ['an address literal', 'ann@[127.0.0.1]'],
    ['invalid punycode', 'ann@xn--a.com'],
    ['no local part', '@example.com'],
    ['no @', 'ann.example.com'],
    ['two @', 'ann@bob@example.com'],
    ['a leading dot in the local part', '.ann@example.com'],
    ['two dots in the local part', 'ann..lee@example.com'],
    ['a space', 'ann lee@example.com'],
    ['a quoted local part', '"ann lee"@example.com'],
    ['a control character', 'ann\u0007@example.com'],
  ])('refuses %s', (_, address) => {
    expect(isEmailAddress(address)).toBe(false);
  });
});
