import { describe, expect, it } from 'vitest';
import { TurnBudget, type TurnBudgetOptions, type Waiting } from '../../src/serve/connections/turn-budget.js';

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
  const request = (id: string, leftMs = () => Infinity, bytes = 0): Waiting => ({ start: () => started.push(id),
    refuse: (reason) => refused.push([id, reason]), leftMs, bytes });
  return { started, refused, request };
}

/** A budget on hand-run turns and a hand-set clock (maxWaiting 100 unless given). */
function clockedBudget(options: Omit<TurnBudgetOptions, 'maxWaiting' | 'defer' | 'now'> & { maxWaiting?: number }) {
  const turns = manualTurns();
  const clock = { ms: 0 };
  const budget = new TurnBudget({ maxWaiting: 100, ...options, defer: turns.defer, now: () => clock.ms });
  return { turns, clock, budget, ...recorder() };
}

/** A budget that holds for bursts (acceptFirstMs 50). */
function burstBudget(perTurn: number) {
  return clockedBudget({ perTurn, acceptFirstMs: 50 });
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

  it('starts requests a turn until their bodies fill bytesPerTurn, and one larger than that alone', () => {
    const { turns, budget, started, request } = clockedBudget({ perTurn: 10, bytesPerTurn: 100 });
    const sizes: [string, number][] = [['a', 60], ['b', 30], ['c', 20], ['big', 250], ['d', 10], ['e', 0]];
    for (const [id, bytes] of sizes) budget.admit(request(id, undefined, bytes));
    expect(started).toEqual(['a', 'b']); // c would bring the turn to 110 bytes
    turns.endTurn();
    expect(started).toEqual(['a', 'b', 'c']); // big does not fit beside c
    turns.endTurn();
    expect(started).toEqual(['a', 'b', 'c', 'big']); // alone: a turn with nothing else has room for it
    turns.endTurn();
    expect(started).toEqual(['a', 'b', 'c', 'big', 'd', 'e']);
  });

  it('predicts turns ahead from the bytes waiting when they, not the requests, fill turns, a body larger ' +
    'than a turn\'s counting as one turn', () => {
    const { turns, clock, budget, request } = clockedBudget({ perTurn: 64, bytesPerTurn: 100, deadlineMs: 1000 });
    budget.admit(request('first', undefined, 100)); // starts at once, filling this turn
    for (let i = 0; i < 6; i++) budget.admit(request(`w${i}`, undefined, 100)); // a turn's worth each
    for (let turn = 0; turn < 2; turn++) { // start w0, then w1 after a turn of 10 ms
      clock.ms += 10;
      turns.endTurn();
    }
    // w2…w5 wait, one a turn: 4 turns ahead of the next, then its own; no answers timed yet.
    expect(budget.depth).toBe(4);
    expect(budget.predictedMs()).toBe((4 + 1) * 10);
    budget.admit(request('chunked', undefined, 4_000_000)); // starts alone: one turn, not 40,000
    expect(budget.predictedMs()).toBe((5 + 1) * 10);
    while (budget.depth > 0) {
      clock.ms += 10;
      turns.endTurn();
    }
    expect(budget.predictedMs()).toBe(10); // nothing left counted: the bytes came off as they went
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
    budget.admit(request('b', () => 0));
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

  it('holds requests back while every turn accepts a connection, then starts them in arrival order', () => {
    const { turns, clock, budget, started, request } = burstBudget(2);
    budget.admit(request('a')); // no connection accepted yet: starts at once
    budget.connectionAccepted();
    budget.admit(request('b'));
    expect(started).toEqual(['a']);
    for (const id of ['c', 'd']) {
      turns.endTurn(); // each of these turns accepted a connection: nothing starts
      clock.ms += 1;
      budget.connectionAccepted();
      budget.admit(request(id));
      expect(started).toEqual(['a']);
    }
    turns.endTurn(); // the last accepting turn ends, holding
    expect(started).toEqual(['a']);
    turns.endTurn(); // a turn that accepted nothing: the burst is in, its requests start
    expect(started).toEqual(['a', 'b', 'c']);
    turns.endTurn();
    expect(started).toEqual(['a', 'b', 'c', 'd']);
  });

  it('forces a turn of starts each time a streak has lasted acceptFirstMs', () => {
    const { turns, clock, budget, started, request } = burstBudget(1);
    const startedPerTurn: number[] = [];
    for (let turn = 0; turn < 10; turn++) {
      budget.connectionAccepted(); // a flood: every turn accepts
      budget.admit(request(`r${turn}`));
      const before = started.length;
      turns.endTurn();
      startedPerTurn.push(started.length - before);
      clock.ms += 20;
    }
    // 0, 20, 40 ms hold; at 60 the streak is past 50 ms: it starts a request, which ends the
    // streak; the next one (80, 100, 120) holds again; 140 starts; 160 and 180 hold.
    expect(startedPerTurn).toEqual([0, 0, 0, 1, 0, 0, 0, 1, 0, 0]);
    expect(started).toEqual(['r0', 'r1']);
  });

  it('ends a streak at the first turn that accepts nothing, even with nothing waiting', () => {
    const { turns, clock, budget, started, request } = burstBudget(4);
    budget.connectionAccepted(); // a lone connection (a probe) at 0 ms
    turns.endTurn();
    turns.endTurn(); // the next turn accepts nothing: the streak is over
    expect(turns.scheduled).toBe(0); // and an idle server stops scheduling
    clock.ms = 1000; // a burst much later is a new streak, held from its start
    budget.connectionAccepted();
    budget.admit(request('a'));
    expect(started).toEqual([]);
    turns.endTurn();
    turns.endTurn();
    expect(started).toEqual(['a']);
  });

  it('holds nothing once three quarters of the waiting room are taken, so holding never turns into 503s', () => {
    const turns = manualTurns();
    const budget = new TurnBudget({ perTurn: 1, maxWaiting: 8, acceptFirstMs: 1000, defer: turns.defer,
      now: () => 0 });
    const { started, refused, request } = recorder();
    budget.connectionAccepted();
    for (const id of ['a', 'b', 'c', 'd', 'e']) budget.admit(request(id));
    turns.endTurn(); // five of eight wait: still held
    expect(started).toEqual([]);
    budget.connectionAccepted();
    budget.admit(request('f'));
    turns.endTurn(); // six of eight: this accepting turn starts one anyway
    expect(started).toEqual(['a']);
    expect(refused).toEqual([]);
  });

  it('never holds when acceptFirstMs is 0 or unset', () => {
    for (const acceptFirstMs of [0, undefined]) {
      const turns = manualTurns();
      const budget = new TurnBudget({ perTurn: 4, maxWaiting: 100, acceptFirstMs, defer: turns.defer });
      const { started, request } = recorder();
      budget.connectionAccepted();
      expect(turns.scheduled).toBe(0); // nothing to end: no turn is held
      budget.admit(request('a'));
      expect(started).toEqual(['a']);
    }
  });

  it('predicts a queued request\'s time to its answer from recent turns and answers, and refuses it as late ' +
    'at once when that passes the deadline', () => {
    const { turns, clock, budget, started, refused, request } = clockedBudget({ perTurn: 2, deadlineMs: 100 });
    expect(budget.predictedMs()).toBe(0); // nothing measured yet: nothing refused as late
    for (let i = 0; i < 40; i++) budget.admit(request(`r${i}`));
    for (let turn = 0; turn < 10; turn++) { // turns of 20 ms while requests wait
      clock.ms += 20;
      turns.endTurn();
    }
    for (let i = 0; i < 200; i++) budget.served(10);
    budget.served(30); // a sample moves the mean by its weight, 0.05
    // 18 wait: (floor(18 / 2) + 1) turns of 20 ms, then 11 ms to answer.
    expect(budget.depth).toBe(18);
    expect(budget.predictedMs()).toBeCloseTo(10 * 20 + 11, 6);
    budget.admit(request('r40'));
    expect(refused).toEqual([['r40', 'late']]);
    expect(started).not.toContain('r40');
    while (budget.depth > 0) {
      clock.ms += 20;
      turns.endTurn();
    }
    turns.endTurn(); // a turn with nothing left to start
    budget.admit(request('in time')); // a request that starts at once is never refused as late
    expect(started.at(-1)).toBe('in time');
  });

  it('times only turns that follow each other and start something: an idle gap is not a turn', () => {
    const { turns, clock, budget, refused, request } = clockedBudget({ perTurn: 1, deadlineMs: 100 });
    budget.admit(request('a')); // starts in admit
    turns.endTurn(); // starts nothing and nothing waits: the chain of turns ends here
    clock.ms += 60_000;
    budget.admit(request('b')); // starts in admit
    budget.admit(request('c')); // waits
    clock.ms += 5;
    turns.endTurn(); // starts c, 60,005 ms after the last end of turn, which did not follow a turn
    clock.ms += 5;
    turns.endTurn(); // starts nothing: not timed either
    expect(budget.predictedMs()).toBe(0);
    expect(refused).toEqual([]);
  });

  it('never refuses as late a request with nothing waiting ahead of it, and forgets means a deadline old', () => {
    const { turns, clock, budget, started, refused, request } = clockedBudget({ perTurn: 1, deadlineMs: 100 });
    for (let i = 0; i < 200; i++) budget.served(500); // answers have been taking 500 ms
    budget.admit(request('a')); // spends this turn's budget
    budget.admit(request('b')); // nothing ahead: waits for the next turn rather than refused
    budget.admit(request('c')); // behind b, past the deadline by the means: refused
    expect(refused).toEqual([['c', 'late']]);
    turns.endTurn();
    expect(started).toEqual(['a', 'b']);
    clock.ms += 60 * 60_000; // an hour without an answer: the means predict nothing
    expect(budget.predictedMs()).toBe(0);
    budget.admit(request('d'));
    budget.admit(request('e')); // behind d, and not refused
    turns.endTurn();
    turns.endTurn();
    expect(started).toEqual(['a', 'b', 'd', 'e']);
    expect(refused).toEqual([['c', 'late']]);
  });

  it('starts requests again once refusals at dequeue have left the service mean a deadline without samples', () => {
    // A mean left high by a slow moment refused every queued request, and refused requests give
    // no samples: before means were forgotten, a server stayed refusing until its queue emptied.
    const { turns, clock, budget, started, refused, request } = clockedBudget({ perTurn: 1, deadlineMs: 250 });
    for (let i = 0; i < 200; i++) budget.served(160); // a cold start: answers took 160 ms
    budget.admit(request('a'));
    for (let turn = 0; turn < 30; turn++) { // each turn, a client refused at once sends another
      budget.admit(request(`r${turn}`, () => 100));
      clock.ms += 10;
      turns.endTurn();
    }
    // r0…r24 come while the 160 ms answers are under a deadline old: each is refused as it leaves
    // the queue with 100 ms left. From 260 ms the mean is forgotten, and the queue starts again.
    expect(refused).toEqual(Array.from({ length: 25 }, (_, i) => [`r${i}`, 'late']));
    expect(started).toEqual(['a', 'r25', 'r26', 'r27', 'r28', 'r29']);
  });

  it('refuses as late, as it leaves the queue, a request with less time left than answers have been taking', () => {
    const turns = manualTurns();
    const budget = new TurnBudget({ perTurn: 1, maxWaiting: 100, deadlineMs: 1000, defer: turns.defer });
    const { started, refused, request } = recorder();
    for (let i = 0; i < 200; i++) budget.served(100); // answers take ~100 ms
    budget.admit(request('a')); // starts at once
    budget.admit(request('short', () => 40)); // nothing ahead: queued, never refused on arrival
    budget.admit(request('long', () => 900));
    turns.endTurn(); // the refusal spends this turn's one start
    expect(refused).toEqual([['short', 'late']]); // started now, it would be answered ~60 ms late
    expect(started).toEqual(['a']);
    turns.endTurn();
    expect(started).toEqual(['a', 'long']);
  });
});
