import type { Rng } from '../src/rng.js';

/**
 * Samples one action per row from softmax(logits). `logits` float32 [N, A]; returns int32 [N].
 * Done on the host: the actor needs the actions as numbers anyway, and it keeps sampling seeded.
 */
export function sampleActions(logits: Float32Array, numActions: number, rng: Rng): Int32Array {
  const n = logits.length / numActions;
  const actions = new Int32Array(n);
  const p = new Float64Array(numActions);
  for (let i = 0; i < n; i++) {
    let max = -Infinity;
    for (let a = 0; a < numActions; a++) max = Math.max(max, logits[i * numActions + a]!);
    let total = 0;
    for (let a = 0; a < numActions; a++) total += p[a] = Math.exp(logits[i * numActions + a]! - max);
    let u = rng.next() * total;
    let a = 0;
    while (a < numActions - 1 && (u -= p[a]!) >= 0) a++;
    actions[i] = a;
  }
  return actions;
}

/** The most probable action per row (greedy evaluation), int32 [N]. */
export function greedyActions(logits: Float32Array, numActions: number): Int32Array {
  const n = logits.length / numActions;
  const actions = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let a = 1; a < numActions; a++) if (logits[i * numActions + a]! > logits[i * numActions + best]!) best = a;
    actions[i] = best;
  }
  return actions;
}
