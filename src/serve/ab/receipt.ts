import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { MODEL_NAMES, type ModelName } from '../config.js';

/**
 * What an A/B answer's receipt vouches for: a server-chosen answer id, the variant that answered,
 * its top-1 class per instance, and when the receipt stops being accepted.
 */
export interface Receipt {
  answerId: string;
  variant: ModelName;
  classes: number[];
  /** Milliseconds since the epoch. */
  expiresAt: number;
}

const Payload = z.tuple([z.uuid(), z.enum(MODEL_NAMES), z.array(z.int().nonnegative()).min(1), z.int().positive()]);

/**
 * Signs and checks A/B receipts. Feedback must return the receipt of the answer it scores, so a
 * client can score only answers it was given (it cannot know another's receipt, nor forge one
 * without the key), and the scored classes come from the receipt, not from this process's memory:
 * any worker or replica holding the same key can score it. Replays are refused by the ledger,
 * which remembers scored answer ids until their receipts expire.
 */
export class ReceiptSigner {
  private readonly key: Buffer;

  /** `secret`: shared by every worker and replica (SERVE_AB_SECRET); random per process without one. */
  constructor(secret: string | undefined, private readonly ttlMs: number) {
    this.key = secret ? Buffer.from(secret, 'utf8') : randomBytes(32);
  }

  issue(variant: ModelName, classes: number[], now = Date.now()): { receipt: string; answer: Receipt } {
    const answer: Receipt = { answerId: randomUUID(), variant, classes, expiresAt: now + this.ttlMs };
    const payload = Buffer.from(JSON.stringify([answer.answerId, variant, classes, answer.expiresAt])).toString(
      'base64url',
    );
    return { receipt: `${payload}.${this.sign(payload)}`, answer };
  }

  /** The receipt's content if the signature is ours and it has not expired; else why not. */
  open(receipt: string, now = Date.now()): Receipt | 'forged' | 'expired' {
    const [payload, signature, extra] = receipt.split('.');
    if (!payload || !signature || extra !== undefined) return 'forged';
    const expected = Buffer.from(this.sign(payload));
    const given = Buffer.from(signature);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'forged';
    let parsed: z.infer<typeof Payload>;
    try {
      parsed = Payload.parse(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')));
    } catch {
      return 'forged'; // signed by us but unreadable cannot happen unless the key leaked
    }
    const [answerId, variant, classes, expiresAt] = parsed;
    if (expiresAt <= now) return 'expired';
    return { answerId, variant, classes, expiresAt };
  }

  private sign(payload: string): string {
    return createHmac('sha256', this.key).update(payload).digest('base64url');
  }
}
