import { describe, expect, it } from 'vitest';
import { alignTransitions } from '../../agents/transitions.js';

describe('alignTransitions (the time alignment of V-trace and InfoNCE)', () => {
  it('shifts rewards and episode ends by one entry, on a hand-traced unroll with episode ends inside', () => {
    // T = 3, B = 2, entries t = 0..3 (row t = what came with observation t):
    //   prevRewards  [9, 9]  [0.5, -3]  [2, 0]  [-0.25, 1]
    //   firsts       [1, 0]  [0, 0]     [1, 0]  [0, 1]
    // Entry 0 is the previous unroll's last transition: dropped (its 9s must not appear).
    // Column 0: action a_1 ended the episode (observation 2 is a first). Column 1: a_2 did.
    const prevRewards = Float32Array.from([9, 9, 0.5, -3, 2, 0, -0.25, 1]);
    const firsts = Uint8Array.from([1, 0, 0, 0, 1, 0, 0, 1]);
    const out = alignTransitions(prevRewards, firsts, 3, 2, 0.9, 'abs_one');
    // transition t = 0..2, columns side by side
    expect(Array.from(out.rewards)).toEqual([0.5, -1, 1, 0, -0.25, 1]);
    expect(Array.from(out.dones)).toEqual([0, 0, 1, 0, 0, 1]);
    expect(Array.from(out.discounts)).toEqual([0.9, 0.9, 0, 0.9, 0.9, 0].map(Math.fround));
  });

  it('clips rewards for the loss with the mode it is given', () => {
    const prevRewards = Float32Array.from([0, 5, -5]);
    const firsts = new Uint8Array(3);
    expect(Array.from(alignTransitions(prevRewards, firsts, 2, 1, 0.99, 'none').rewards)).toEqual([5, -5]);
    const soft = alignTransitions(prevRewards, firsts, 2, 1, 0.99, 'soft_asymmetric').rewards;
    expect(soft[0]).toBeCloseTo(5 * Math.tanh(1), 6);
    expect(soft[1]).toBeCloseTo(-0.3 * 5 * Math.tanh(1), 6);
  });

  it('rejects arrays that do not hold T + 1 entries per column', () => {
    expect(() => alignTransitions(new Float32Array(6), new Uint8Array(8), 3, 2, 0.9, 'abs_one')).toThrow(
      /prevRewards must hold \(T \+ 1\) x B = 8 entries, got 6/,
    );
    expect(() => alignTransitions(new Float32Array(8), new Uint8Array(6), 3, 2, 0.9, 'abs_one')).toThrow(/firsts must hold .* got 6/);
  });
});
