import { describe, expect, it } from 'vitest';
import { greedyActions, sampleActions } from '../../agents/policy.js';
import { Rng } from '../../src/rng.js';

describe('action selection', () => {
  it('sampleActions draws each row from softmax(logits)', () => {
    // row 0: logits (0, ln 3, -inf-ish) -> (1/4, 3/4, 0); row 1: large logits, (1/2, 1/2) after the max shift
    const logits = Float32Array.from([0, Math.log(3), -50, 1000, 1000 + Math.log(1), 900]);
    const rng = new Rng(5);
    const n = 20_000;
    const counts = [new Array(3).fill(0), new Array(3).fill(0)];
    for (let i = 0; i < n; i++) {
      const a = sampleActions(logits, 3, rng);
      expect(a).toHaveLength(2);
      counts[0]![a[0]!]++;
      counts[1]![a[1]!]++;
    }
    // binomial standard deviation at n = 20000 is at most 0.0035
    expect(counts[0]![0] / n).toBeCloseTo(0.25, 1.7);
    expect(counts[0]![1] / n).toBeCloseTo(0.75, 1.7);
    expect(counts[0]![2]).toBe(0);
    expect(counts[1]![0] / n).toBeCloseTo(0.5, 1.7);
    expect(counts[1]![2]).toBe(0);
  });

  it('sampleActions picks the last action when the draw reaches the end of the distribution', () => {
    // one-hot on the last action: every draw must land there
    const rng = new Rng(1);
    for (let i = 0; i < 100; i++) expect(sampleActions(Float32Array.from([-100, -100, 100]), 3, rng)[0]).toBe(2);
    for (let i = 0; i < 100; i++) expect(sampleActions(Float32Array.from([100, -100, -100]), 3, rng)[0]).toBe(0);
  });

  it('sampleActions takes one uniform draw per row (so seeded runs replay exactly)', () => {
    const rng = new Rng(8);
    const twin = new Rng(8);
    sampleActions(new Float32Array(5 * 3), 3, rng);
    for (let i = 0; i < 5; i++) twin.next();
    expect(rng.next()).toBe(twin.next());
  });

  it('greedyActions takes the most probable action, the first on ties', () => {
    expect(Array.from(greedyActions(Float32Array.from([0.1, 2, -1, 3, 3, 0, -5, -4, -4.5, 0, 5, 4]), 3))).toEqual([1, 0, 1, 1]);
  });
});
