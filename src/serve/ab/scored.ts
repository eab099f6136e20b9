import cluster from 'node:cluster';
import { askPrimary } from '../gather.js';

/**
 * Which A/B answers already have feedback, so a receipt counts once. In one process a map; in a
 * node:cluster worker the primary holds the map for every worker (they share the receipt key, so
 * a receipt sent to each worker in turn must still count once). Replicas on other machines each
 * have their own: refusing a replay across them would need a store they share.
 */
export interface ScoredAnswers {
  /** True the first time an answer id is claimed before its receipt expires, false after. */
  claim(answerId: string, expiresAt: number): Promise<boolean>;
}

const CLAIM = 'serve:ab-claim';
const CLAIMED = 'serve:ab-claimed';
type ClaimMessage = { type: typeof CLAIM; id: number; answerId: string; expiresAt: number } | { type: typeof CLAIMED;
  id: number; fresh: boolean };

/** Answer ids with their receipts' expiry; an expired id can go, since its receipt is refused anyway. */
export class ScoredMap {
  private readonly expiries = new Map<string, number>();

  claimNow(answerId: string, expiresAt: number, now = Date.now()): boolean {
    // Feedback order, not expiry order: stop at the first live id (an expired one may stay a little longer).
    for (const [id, expiry] of this.expiries) {
      if (expiry > now) break;
      this.expiries.delete(id);
    }
    if (this.expiries.has(answerId)) return false;
    this.expiries.set(answerId, expiresAt);
    return true;
  }

  claim(answerId: string, expiresAt: number): Promise<boolean> {
    return Promise.resolve(this.claimNow(answerId, expiresAt));
  }
}

/** In a cluster worker: asks the primary (see serveClusterClaims); elsewhere a map of this process. */
export function scoredAnswers(): ScoredAnswers {
  if (!cluster.isWorker || !process.send) return new ScoredMap();
  return {
    claim: (answerId, expiresAt) =>
      askPrimary('A/B feedback', (id) => ({ type: CLAIM, id, answerId, expiresAt } satisfies ClaimMessage),
        (message, id) => (message.type === CLAIMED && message.id === id ?
          (message as ClaimMessage & { fresh: boolean }).fresh :
          undefined), 5000),
  };
}

/** In the primary: one map of scored answers for all workers. */
export function serveClusterClaims(): void {
  const scored = new ScoredMap();
  cluster.on('message', (worker, message: ClaimMessage) => {
    if (message?.type !== CLAIM) return;
    worker.send(
      { type: CLAIMED, id: message.id,
        fresh: scored.claimNow(message.answerId, message.expiresAt) } satisfies ClaimMessage,
    );
  });
}
