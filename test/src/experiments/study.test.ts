import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openStudy, planRuns, sampleTrials, SEARCH_SPACE, SearchConfigSchema, searchConfigOf, verifyPlan } from '../../../src/experiments/study.js';
import { tmp } from './fixtures.js';

/** Kolmogorov-Smirnov distance between samples in [0, 1] and U[0, 1]. */
function ksUniform(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return Math.max(...s.map((x, i) => Math.max(Math.abs((i + 1) / s.length - x), Math.abs(x - i / s.length))));
}

describe('random search configurations', () => {
  const N = 4000;
  const trials = sampleTrials(N, 7);

  it('stay in range: entropy in [5e-5, 1e-2], learning rate in [5e-6, 5e-3], epsilon one of four', () => {
    for (const t of trials) {
      expect(t.entropyCost).toBeGreaterThanOrEqual(5e-5);
      expect(t.entropyCost).toBeLessThanOrEqual(1e-2);
      expect(t.learningRate).toBeGreaterThanOrEqual(5e-6);
      expect(t.learningRate).toBeLessThanOrEqual(5e-3);
      expect([1e-1, 1e-3, 1e-5, 1e-7]).toContain(t.rmspropEpsilon);
      expect(Number.isInteger(t.seed) && t.seed >= 0).toBe(true);
    }
  });

  it('are log-uniform: the logs of the samples are uniform (KS test), epsilon choices equally likely', () => {
    // 1% critical value of the KS statistic is 1.63 / sqrt(N)
    const critical = 1.63 / Math.sqrt(N);
    for (const key of ['entropyCost', 'learningRate'] as const) {
      const [lo, hi] = SEARCH_SPACE[key].logUniform;
      const u = trials.map((t) => (Math.log(t[key]) - Math.log(lo)) / (Math.log(hi) - Math.log(lo)));
      expect(ksUniform(u)).toBeLessThan(critical);
      // and not uniform in the raw values: half the samples lie below the geometric mean
      const below = trials.filter((t) => t[key] < Math.sqrt(lo * hi)).length / N;
      expect(below).toBeGreaterThan(0.47);
      expect(below).toBeLessThan(0.53);
    }
    for (const eps of SEARCH_SPACE.rmspropEpsilon.choice) {
      const share = trials.filter((t) => t.rmspropEpsilon === eps).length / N;
      expect(Math.abs(share - 0.25)).toBeLessThan(0.03);
    }
  });

  it('are identical for the same seed and differ for another', () => {
    expect(sampleTrials(24, 1)).toEqual(sampleTrials(24, 1));
    expect(sampleTrials(24, 2)).not.toEqual(sampleTrials(24, 1));
    // the first configurations do not depend on how many are drawn
    expect(sampleTrials(30, 1).slice(0, 24)).toEqual(sampleTrials(24, 1));
  });

  it('are paired across agents: each cpc run has a baseline twin with the same hyperparameters and seed', () => {
    const c = SearchConfigSchema.parse({ levels: ['mock:memory', 'builtin:rooms_watermaze'], trials: 5, out: '/tmp/x', train: { frames: 6400 } });
    const study = openStudy({ ...c, out: tmp() });
    const runs = planRuns(study, '/study');
    expect(runs).toHaveLength(5 * 2 * 2);
    expect(new Set(runs.map((r) => r.runDir)).size).toBe(runs.length);
    for (const cpc of runs.filter((r) => r.agent === 'cpc')) {
      const twin = runs.find((r) => r.agent === 'baseline' && r.level === cpc.level && r.trial === cpc.trial)!;
      const strip = ({ agent: _a, name: _n, runDir: _d, ...rest }: typeof cpc.config) => rest;
      expect(strip(twin.config)).toEqual(strip(cpc.config));
      expect(cpc.config).toMatchObject({ learningRate: study.trials[cpc.trial]!.learningRate, seed: study.trials[cpc.trial]!.seed, frames: 6400 });
    }
  });

  it('a stored study is reused; a different one in the same folder is refused; --resume reads it back', () => {
    const out = tmp();
    const c = SearchConfigSchema.parse({ levels: ['mock:memory'], trials: 3, out, train: { frames: 6400 } });
    const first = openStudy(c);
    expect(fs.existsSync(path.join(out, 'study.json'))).toBe(true);
    expect(openStudy(c)).toEqual(first);
    expect(() => openStudy({ ...c, trials: 4 })).toThrow(/holds another study \(different trials\).*--resume/);
    expect(searchConfigOf(out, 2)).toEqual({ ...c, parallel: 2 });
  });

  it('a narrowed space: fixed values stay fixed, ranges are respected, run seeds are those of the default space', () => {
    const space = { entropyCost: { choice: [0.003] }, learningRate: { logUniform: [1e-3, 2e-3] as [number, number] }, rmspropEpsilon: { choice: [1e-5] } };
    const narrow = sampleTrials(50, 4, space);
    expect(narrow.map((t) => t.seed)).toEqual(sampleTrials(50, 4).map((t) => t.seed));
    for (const t of narrow) {
      expect(t).toMatchObject({ entropyCost: 0.003, rmspropEpsilon: 1e-5 });
      expect(t.learningRate).toBeGreaterThanOrEqual(1e-3);
      expect(t.learningRate).toBeLessThanOrEqual(2e-3);
    }
    const out = tmp();
    const c = SearchConfigSchema.parse({ levels: ['mock:memory'], trials: 3, out, space, train: { frames: 6400 } });
    expect(openStudy(c).trials).toEqual(sampleTrials(3, c.seed, space));
    expect(searchConfigOf(out)).toEqual({ ...c, parallel: 1 });
    expect(() => openStudy(SearchConfigSchema.parse({ levels: ['mock:memory'], trials: 3, out, train: { frames: 6400 } }))).toThrow(/different space, trials/);
    expect(() => SearchConfigSchema.parse({ levels: ['mock:memory'], out, space: { ...space, learningRate: { logUniform: [2, 1] } } })).toThrow(/lo must be <= hi/);
  });

  it('per-level settings replace the trial\'s and the shared ones on that level only, and are part of the stored study', () => {
    const out = tmp();
    const levelTrain = { 'builtin:lasertag_three_opponents_small': { entropyCost: 1e-4, unroll: 40 } };
    const c = SearchConfigSchema.parse({ levels: ['mock:memory', 'builtin:lasertag_three_opponents_small'], trials: 2, out, levelTrain, train: { frames: 6400, unroll: 20 } });
    const study = openStudy(c);
    for (const r of planRuns(study, out)) {
      const t = study.trials[r.trial]!;
      if (r.level === 'mock:memory') expect(r.config).toMatchObject({ entropyCost: t.entropyCost, unroll: 20, learningRate: t.learningRate });
      else expect(r.config).toMatchObject({ entropyCost: 1e-4, unroll: 40, learningRate: t.learningRate, seed: t.seed, frames: 6400 });
    }
    expect(searchConfigOf(out)).toEqual({ ...c, parallel: 1 });
    expect(() => openStudy({ ...c, levelTrain: {} })).toThrow(/different levelTrain/);
    // a study written before per-level settings existed reads back as having none
    const stored = JSON.parse(fs.readFileSync(path.join(out, 'study.json'), 'utf8')) as Record<string, unknown>;
    const old = tmp();
    delete stored.levelTrain;
    fs.writeFileSync(path.join(old, 'study.json'), JSON.stringify(stored));
    expect(searchConfigOf(old).levelTrain).toEqual({});
    expect(() => openStudy({ ...c, out: old, levelTrain: {} })).not.toThrow();
  });

  it('refuses per-level settings for a level the study does not train, or for what identifies a run', () => {
    const base = { levels: ['mock:memory'], out: 'x' };
    expect(() => SearchConfigSchema.parse({ ...base, levelTrain: { 'builtin:seekavoid_arena_01': { entropyCost: 1e-4 } } })).toThrow(
      /levelTrain: builtin:seekavoid_arena_01 is not one of the study's levels \(mock:memory\)/,
    );
    expect(() => SearchConfigSchema.parse({ ...base, levelTrain: { 'mock:memory': { seed: 3 } } })).toThrow(/seed/);
    expect(() => SearchConfigSchema.parse({ ...base, levelTrain: { 'mock:memory': { entropyCost: -1 } } })).toThrow(/entropyCost/);
  });

  it('reports every invalid run setting at once before anything starts', () => {
    const c = SearchConfigSchema.parse({ levels: ['mock:memory'], trials: 2, out: tmp(), train: { frames: 10, actors: 2 } });
    const errors = verifyPlan(planRuns(openStudy(c), c.out));
    expect(errors.filter((e) => /frames: 10 is less than one batch/.test(e))).toHaveLength(4);
    expect(errors.filter((e) => /actors: a search trains each run in one process/.test(e))).toHaveLength(4);
    expect(() => SearchConfigSchema.parse({ levels: [], out: 'x', train: { seed: 3 } })).toThrow(/levels[\s\S]*seed|seed[\s\S]*levels/);
  });
});
