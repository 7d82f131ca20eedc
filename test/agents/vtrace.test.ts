import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { vtrace } from '../../agents/vtrace.js';
import { Rng } from '../../src/rng.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** IMPALA eq. (1) written as the closed-form sum, per column, in float64. */
function closedForm(
  T: number,
  B: number,
  logRhos: number[],
  discounts: number[],
  rewards: number[],
  values: number[],
  bootstrap: number[],
  rhoBar: number,
  pgRhoBar: number,
) {
  const at = (a: number[], t: number, b: number) => a[t * B + b]!;
  const vs = new Array(T * B).fill(0);
  const pg = new Array(T * B).fill(0);
  const v = (t: number, b: number) => (t === T ? bootstrap[b]! : at(values, t, b));
  for (let b = 0; b < B; b++) {
    for (let s = 0; s < T; s++) {
      let sum = 0;
      let coef = 1; // prod_{i=s}^{t-1} gamma_i c_i
      for (let t = s; t < T; t++) {
        const rho = Math.exp(at(logRhos, t, b));
        const delta = Math.min(rhoBar, rho) * (at(rewards, t, b) + at(discounts, t, b) * v(t + 1, b) - v(t, b));
        sum += coef * delta;
        coef *= at(discounts, t, b) * Math.min(1, rho);
      }
      vs[s * B + b] = v(s, b) + sum;
    }
    for (let s = 0; s < T; s++) {
      const next = s + 1 === T ? bootstrap[b] : vs[(s + 1) * B + b];
      const rho = Math.exp(at(logRhos, s, b));
      pg[s * B + b] = Math.min(pgRhoBar, rho) * (at(rewards, s, b) + at(discounts, s, b) * next - v(s, b));
    }
  }
  return { vs, pg };
}

describe('vtrace', () => {
  /** Random inputs with log rhos spread over [-2, 2], so rho > rho-bar (clipped) and rho < 1 (c_s < 1) both occur. */
  function randomInputs(T: number, B: number, seed: number) {
    const rng = new Rng(seed);
    const gen = (f: () => number) => Array.from({ length: T * B }, f);
    return {
      logRhos: gen(() => rng.uniform(-2, 2)),
      discounts: gen(() => (rng.next() < 0.1 ? 0 : 0.99)),
      rewards: gen(() => rng.uniform(-1, 1)),
      values: gen(() => rng.normal()),
      bootstrap: Array.from({ length: B }, () => rng.normal()),
    };
  }

  const cases = [
    { T: 1, rhoBar: 1, pgRhoBar: 1 },
    { T: 5, rhoBar: 1, pgRhoBar: 1 },
    { T: 100, rhoBar: 1, pgRhoBar: 1 },
    { T: 5, rhoBar: 2.5, pgRhoBar: 0.5 },
    { T: 20, rhoBar: 0.6, pgRhoBar: 3 },
  ];
  for (const { T, rhoBar, pgRhoBar } of cases) {
    it(`equals the closed-form sum of the IMPALA paper with clipping active (T = ${T}, rho-bar ${rhoBar}, pg rho-bar ${pgRhoBar})`, async () => {
      const B = 4;
      const x = randomInputs(T, B, T + 10 * rhoBar);
      const expected = closedForm(T, B, x.logRhos, x.discounts, x.rewards, x.values, x.bootstrap, rhoBar, pgRhoBar);
      const out = vtrace({
        logRhos: tf.tensor2d(x.logRhos, [T, B]),
        discounts: tf.tensor2d(x.discounts, [T, B]),
        rewards: tf.tensor2d(x.rewards, [T, B]),
        values: tf.tensor2d(x.values, [T, B]),
        bootstrapValue: tf.tensor1d(x.bootstrap),
        ...(rhoBar === 1 ? {} : { clipRhoThreshold: rhoBar }),
        ...(pgRhoBar === 1 ? {} : { clipPgRhoThreshold: pgRhoBar }),
      });
      const vs = Array.from(await out.vs.data());
      const pg = Array.from(await out.pgAdvantages.data());
      for (let i = 0; i < T * B; i++) {
        expect(vs[i]).toBeCloseTo(expected.vs[i], 3);
        expect(pg[i]).toBeCloseTo(expected.pg[i], 3);
      }
      // the thresholds change the result: without clipping it would differ
      const unclipped = closedForm(T, B, x.logRhos, x.discounts, x.rewards, x.values, x.bootstrap, Infinity, Infinity);
      expect(Math.max(...pg.map((p, i) => Math.abs(p - unclipped.pg[i])))).toBeGreaterThan(1e-2);
      if (T > 1) expect(Math.max(...vs.map((v, i) => Math.abs(v - unclipped.vs[i])))).toBeGreaterThan(1e-2);
    });
  }

  it('one unroll across an episode end equals its two halves computed apart (rlax)', async () => {
    // T = 7, B = 3: every column's episode ends at step 3 (discount 0), so steps 0..3 and 4..6
    // are separate episodes; the first half's bootstrap value is irrelevant.
    const [T, B, cut] = [7, 3, 4];
    const x = randomInputs(T, B, 77);
    for (let b = 0; b < B; b++) {
      x.discounts[(cut - 1) * B + b] = 0;
      for (let t = 0; t < T; t++) if (t !== cut - 1) x.discounts[t * B + b] = 0.9;
    }
    const run = (from: number, to: number, bootstrap: number[]) => {
      const part = (a: number[]) => tf.tensor2d(a.slice(from * B, to * B), [to - from, B]);
      return tf.tidy(() => {
        const out = vtrace({
          logRhos: part(x.logRhos),
          discounts: part(x.discounts),
          rewards: part(x.rewards),
          values: part(x.values),
          bootstrapValue: tf.tensor1d(bootstrap),
          clipRhoThreshold: 1.5,
        });
        return { vs: Array.from(out.vs.dataSync()), pg: Array.from(out.pgAdvantages.dataSync()) };
      });
    };
    const whole = run(0, T, x.bootstrap);
    const first = run(0, cut, [100, -100, 5]);
    const second = run(cut, T, x.bootstrap);
    const joined = { vs: [...first.vs, ...second.vs], pg: [...first.pg, ...second.pg] };
    whole.vs.forEach((v, i) => expect(v).toBeCloseTo(joined.vs[i]!, 5));
    whole.pg.forEach((p, i) => expect(p).toBeCloseTo(joined.pg[i]!, 5));
  });

  it('on-policy, it is the discounted n-step return bootstrapped from V(x_T)', async () => {
    // T = 3, B = 1, gamma = 0.5, rewards 1, 2, 3, bootstrap 8: v_0 = 1 + .5*2 + .25*3 + .125*8 = 3.75
    const out = vtrace({
      logRhos: tf.zeros([3, 1]),
      discounts: tf.fill([3, 1], 0.5),
      rewards: tf.tensor2d([1, 2, 3], [3, 1]),
      values: tf.tensor2d([0, 0, 0], [3, 1]),
      bootstrapValue: tf.tensor1d([8]),
    });
    const vs = Array.from(await out.vs.data());
    expect(vs[0]).toBeCloseTo(3.75, 5);
    expect(vs[1]).toBeCloseTo(2 + 0.5 * 3 + 0.25 * 8, 5);
    expect(vs[2]).toBeCloseTo(3 + 0.5 * 8, 5);
  });

  it('a zero discount cuts the return at an episode end', async () => {
    const out = vtrace({
      logRhos: tf.zeros([2, 1]),
      discounts: tf.tensor2d([0, 0.9], [2, 1]),
      rewards: tf.tensor2d([1, 1], [2, 1]),
      values: tf.tensor2d([5, 5], [2, 1]),
      bootstrapValue: tf.tensor1d([10]),
    });
    expect(Array.from(await out.vs.data())[0]).toBeCloseTo(1, 5);
  });

  it('rejects wrong ranks and shapes with a clear error', () => {
    const ok = { discounts: tf.zeros([3, 2]), rewards: tf.zeros([3, 2]), values: tf.zeros([3, 2]), bootstrapValue: tf.zeros([2]) };
    expect(() => vtrace({ ...ok, logRhos: tf.zeros([3]) })).toThrow(/logRhos must have rank 2 \(\[T, B\]\), got shape \[3\]/);
    expect(() => vtrace({ ...ok, logRhos: tf.zeros([3, 2]), bootstrapValue: tf.zeros([3, 2]) })).toThrow(/bootstrapValue must have shape \[2\]/);
    expect(() => vtrace({ ...ok, logRhos: tf.zeros([3, 2]), rewards: tf.zeros([3, 2, 1]) })).toThrow(/rewards must have shape \[3, 2\], got \[3, 2, 1\]/);
    expect(() => vtrace({ ...ok, logRhos: tf.zeros([3, 2]), rewards: tf.zeros([3]) })).toThrow(/rewards must have shape \[3, 2\], got \[3\]/);
    expect(() => vtrace({ ...ok, logRhos: tf.zeros([3, 2]), discounts: tf.zeros([2, 2]) })).toThrow(/vtrace: discounts must have shape/);
    expect(() => vtrace({ ...ok, logRhos: tf.zeros([3, 2]), values: tf.zeros([3, 1]) })).toThrow(/vtrace: values must have shape/);
    expect(() => vtrace({ ...ok, logRhos: tf.zeros([3, 2, 1]) })).toThrow(/logRhos must have rank 2 \(\[T, B\]\), got shape \[3, 2, 1\]/);
  });
});
