import { describe, expect, it } from 'vitest';
import { ReceiptSigner } from '../../../src/serve/ab/receipt.js';

describe('ReceiptSigner', () => {
  const signer = new ReceiptSigner('a-shared-secret-of-at-least-32-characters', 60_000);

  it('opens what it issued, with the variant, classes and expiry it signed', () => {
    const now = 1_700_000_000_000;
    const { receipt, answer } = signer.issue('ensemble', [3, 1], now);
    expect(answer).toMatchObject({ variant: 'ensemble', classes: [3, 1], expiresAt: now + 60_000 });
    expect(signer.open(receipt, now + 59_999)).toEqual(answer);
    expect(signer.open(receipt, now + 60_000)).toBe('expired');
  });

  it('refuses receipts signed with another key, altered, truncated or malformed', () => {
    const { receipt } = signer.issue('student', [2]);
    const [payload, signature] = receipt.split('.');
    expect(new ReceiptSigner('another-secret-of-at-least-32-characters!', 60_000).open(receipt)).toBe('forged');
    expect(new ReceiptSigner(undefined, 60_000).open(receipt)).toBe('forged'); // a random per-process key
    const altered = Buffer.from(Buffer.from(payload, 'base64url').toString().replace('student', 'ensemble')).toString(
      'base64url',
    );
    expect(signer.open(`${altered}.${signature}`)).toBe('forged');
    expect(signer.open(`${payload}.${signature.slice(0, -1)}`)).toBe('forged');
    for (const bad of ['', '.', 'x', `${payload}.`, `.${signature}`, `${payload}.${signature}.x`]) {
      expect(signer.open(bad)).toBe('forged');
    }
  });

  it('gives every answer its own id', () => {
    const ids = new Set(Array.from({ length: 100 }, () => signer.issue('student', [0]).answer.answerId));
    expect(ids.size).toBe(100);
  });
});
