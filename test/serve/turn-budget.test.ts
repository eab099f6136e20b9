import { describe, expect, it } from 'vitest';
import { TurnBudget, type Waiting } from '../../src/serve/connections/turn-budget.js';

/** Turns the test runs by hand: `defer` queues a callback for the end of the current turn. */
function manualTurns() {
  let pending: (() => void)[] = [];
  return {
    defer: (run: () => void) => pending.push(run),
    endTurn: () => {
      const now = pending;
      pending = [];
      now.forEach((run) => run());
    },
    get scheduled() {
      return pending.length;
    },
  };
}

function recorder() {
  const started: string[] = [];
  const refused: [string, string][] = [];
  const request = (id: string, stale = () => false): Waiting => ({ start: () => started.push(id),
    refuse: (reason) => refused.push([id, reason]), stale });
  return { started, refused, request };
}

describe('TurnBudget', () => {
  it('starts perTurn requests a turn and the rest, in arrival order, on the turns after', () => {
    const turns = manualTurns();
    const budget = new TurnBudget({ perTurn: 2, maxWaiting: 100, defer: turns.defer });
    const { started, request } = recorder();
    for (const id of ['a', 'b', 'c', 'd', 'e']) budget.admit(request(id));
    expect(started).toEqual(['a', 'b']);
    expect(budget.depth).toBe(3);
    turns.endTurn();
    expect(started).toEqual(['a', 'b', 'c', 'd']);
    turns.endTurn();
    expect(started).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(budget.depth).toBe(0);
  });

  it('puts a request behind those already waiting even when this turn has room', () => {
    const turns = manualTurns();
    const budget = new TurnBudget({ perTurn: 2, maxWaiting: 100, defer: turns.defer });
    const { started, request } = recorder();
    ['a', 'b', 'c', 'd', 'e'].forEach((id) => budget.admit(request(id)));
    turns.endTurn(); // c, d start: the budget of the turn to come is spent
    budget.admit(request('f'));
    turns.endTurn();
    budget.admit(request('g'));
    expect(started).toEqual(['a', 'b', 'c', 'd', 'e', 'f']);
    turns.endTurn();
    expect(started).toEqual(['a', 'b', 'c', 'd', 'e', 'f', 'g']);
  });

  it('refuses at once past maxWaiting, and drops requests ' +
    'gone stale while they waited without spending the budget', () => {
    const turns = manualTurns();
    const budget = new TurnBudget({ perTurn: 1, maxWaiting: 2, defer: turns.defer });
    const { started, refused, request } = recorder();
    budget.admit(request('a'));
    budget.admit(request('b', () => true));
    budget.admit(request('c'));
    budget.admit(request('d'));
    expect(refused).toEqual([['d', 'full']]);
    turns.endTurn();
    expect(refused).toEqual([['d', 'full'], ['b', 'stale']]);
    expect(started).toEqual(['a', 'c']);
  });

  it('stops scheduling once a turn starts nothing, so an idle server does not spin', () => {
    const turns = manualTurns();
    const budget = new TurnBudget({ perTurn: 4, maxWaiting: 10, defer: turns.defer });
    const { request } = recorder();
    budget.admit(request('a'));
    expect(turns.scheduled).toBe(1);
    turns.endTurn(); // renews the budget; nothing waits
    expect(turns.scheduled).toBe(0);
    budget.admit(request('b'));
    expect(turns.scheduled).toBe(1);
  });
});
