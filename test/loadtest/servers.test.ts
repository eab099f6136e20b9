import { describe, expect, it } from 'vitest';
import { BASELINE_PATH, baselineApp } from '../../loadtest/index.js';

const post = (body: string) =>
  baselineApp().request(BASELINE_PATH, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

describe('baselineApp', () => {
  it('parses a predict body and answers a constant', async () => {
    const res = await post(JSON.stringify({ instances: [[0, 0.5, 1]] }));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ predictions: [{ class: 0 }] });
  });

  it('refuses a body without instances, as the model routes would', async () => {
    expect((await post('{"rows":[]}')).status).toBe(400);
  });
});
