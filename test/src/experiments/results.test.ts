import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  accuracyCurves,
  bestMean,
  bestRuns,
  bootstrapDifference,
  compareAgents,
  findRunDirs,
  finalReturn,
  loadRun,
  returnCurves,
  runRows,
  summaryRows,
  toCsv,
  toMarkdown,
  summaryTable,
  writeResults,
} from '../../../src/experiments/results.js';
import { Rng } from '../../../src/rng.js';
import { tmp, writeFixtureRun } from './fixtures.js';

/**
 * Fixture study: dmlab:rooms_watermaze (DMLab-30 human 54, random 4.065) and a built-in level,
 * four baseline runs and two cpc runs each. Every run's return window is 2 episodes, so a run's
 * final return is the mean of its last two episodes.
 */
function fixtureStudy(): string {
  const root = tmp();
  // final returns 10, 20, 30, 40 (last two episodes: 8+12, 18+22, ...)
  [10, 20, 30, 40].forEach((f, i) =>
    writeFixtureRun(path.join(root, 'dmlab-rooms_watermaze', `baseline-t0${i}`), {
      env: 'dmlab:rooms_watermaze',
      agent: 'baseline',
      seed: i,
      episodes: [[100, 1000], [200, f - 2], [300, f + 2]],
    }),
  );
  [5, 50].forEach((f, i) =>
    writeFixtureRun(path.join(root, 'dmlab-rooms_watermaze', `cpc-t0${i}`), {
      env: 'dmlab:rooms_watermaze',
      agent: 'cpc',
      seed: i,
      episodes: [[100, f], [300, f]],
      updates: [[100, [0.5, 0.25, null]], [300, [0.9, 0.5, 0.3]]],
    }),
  );
  writeFixtureRun(path.join(root, 'builtin-seekavoid_arena_01', 'baseline-t00'), { env: 'builtin:seekavoid_arena_01', agent: 'baseline', seed: 0, episodes: [[100, 3], [200, 5]] });
  // a run that never ended an episode ranks last and is left out of the best
  writeFixtureRun(path.join(root, 'builtin-seekavoid_arena_01', 'baseline-t01'), { env: 'builtin:seekavoid_arena_01', agent: 'baseline', seed: 1, episodes: [] });
  return root;
}

describe('results', () => {
  it('finds run folders below a study folder and reads their episodes, skipping a torn last line', () => {
    const root = fixtureStudy();
    const dirs = findRunDirs([root]);
    expect(dirs).toHaveLength(8);
    const dir = dirs.find((d) => d.endsWith(path.join('dmlab-rooms_watermaze', 'baseline-t00')))!;
    fs.appendFileSync(path.join(dir, 'metrics.jsonl'), '{"kind":"episode","fra');
    const run = loadRun(dir);
    expect(run.episodes.map((e) => e.frames)).toEqual([100, 200, 300]);
    expect(run.frames).toBe(300);
  });

  it('final return is the mean of the last returnWindow episodes, or of --last-episodes', () => {
    const runs = findRunDirs([fixtureStudy()]).map(loadRun);
    const b3 = runs.find((r) => r.record.name === 'baseline-t03')!;
    expect(finalReturn(b3)).toBe(40); // (38 + 42) / 2
    expect(finalReturn(b3, 3)).toBeCloseTo((1000 + 38 + 42) / 3, 10);
  });

  it('best 3 and human-normalised scores match hand-computed values', () => {
    const runs = findRunDirs([fixtureStudy()]).map(loadRun);
    const watermaze = runs.filter((r) => r.record.config.env === 'dmlab:rooms_watermaze' && r.record.config.agent === 'baseline');
    expect(bestRuns(watermaze).map((r) => r.record.name)).toEqual(['baseline-t03', 'baseline-t02', 'baseline-t01']);
    const rows = summaryRows(runs);
    const base = rows.find((r) => r.level === 'dmlab:rooms_watermaze' && r.agent === 'baseline')!;
    // best 3 of 10, 20, 30, 40: (40 + 30 + 20) / 3 = 30; 100 (30 - 4.065) / (54 - 4.065) = 51.9375...
    expect(base).toMatchObject({ runs: 4, best: 3, bestMean: 30, bestMin: 20, bestMax: 40 });
    expect(base.humanNormalized).toBeCloseTo(51.937518774, 6);
    const cpc = rows.find((r) => r.level === 'dmlab:rooms_watermaze' && r.agent === 'cpc')!;
    // only two runs: both count
    expect(cpc).toMatchObject({ runs: 2, best: 2, bestMean: 27.5 });
    expect(cpc.humanNormalized).toBeCloseTo((100 * (27.5 - 4.065)) / (54 - 4.065), 9);
    // built-in levels have no DMLab human scores; the run without episodes is left out
    const seek = rows.find((r) => r.level === 'builtin:seekavoid_arena_01')!;
    expect(seek).toMatchObject({ runs: 2, best: 1, bestMean: 4 });
    expect(seek.humanNormalized).toBeUndefined();
    const perRun = runRows(runs);
    expect(perRun.find((r) => r.run === 'baseline-t00' && r.level.startsWith('dmlab'))!.humanNormalized).toBeCloseTo((100 * (10 - 4.065)) / (54 - 4.065), 9);
  });

  it("test returns come from the run's eval.json when it evaluated the run's own level", () => {
    const root = fixtureStudy();
    const dir = path.join(root, 'builtin-seekavoid_arena_01', 'baseline-t00');
    fs.writeFileSync(path.join(dir, 'eval.json'), JSON.stringify({ env: 'builtin:seekavoid_arena_01', episodes: 2, greedy: false, seed: 0, returns: [6, 8], mean: 7, std: 1, checkpointFrames: 200 }));
    const runs = findRunDirs([root]).map(loadRun);
    expect(runRows(runs).find((r) => r.level === 'builtin:seekavoid_arena_01' && r.run === 'baseline-t00')!.testReturn).toBe(7);
    expect(summaryRows(runs).find((r) => r.level === 'builtin:seekavoid_arena_01')!.bestTestReturn).toBe(7);
  });

  it('curves: best-3 mean with a min..max band, each run up to its own last frame; accuracy per k', () => {
    const runs = findRunDirs([fixtureStudy()]).map(loadRun);
    const curve = returnCurves(runs, { points: 3 }).filter((p) => p.level === 'dmlab:rooms_watermaze' && p.agent === 'baseline');
    // frames 100, 200, 300; at 100 each best run has one episode (1000)
    expect(curve.map((p) => p.frames)).toEqual([100, 200, 300]);
    expect(curve[0]).toMatchObject({ mean: 1000, lo: 1000, hi: 1000 });
    expect(curve[2]).toMatchObject({ mean: 30, lo: 20, hi: 40 });
    const acc = accuracyCurves(runs, { lastUpdates: 2 });
    // both cpc runs, mean over their last 2 updates; k = 3 only counted where reported
    expect(acc.map((a) => a.k)).toEqual([1, 2, 3]);
    expect(acc[0]!.accuracy).toBeCloseTo(0.7, 10);
    expect(acc[1]!.accuracy).toBeCloseTo(0.375, 10);
    expect(acc[2]!.accuracy).toBeCloseTo(0.3, 10);
    expect(acc[0]!.chance).toBe(1 / 4);
  });

  it('writes the tables as Markdown and CSV', () => {
    const root = fixtureStudy();
    const runs = findRunDirs([root]).map(loadRun);
    const md = toMarkdown(summaryTable(summaryRows(runs)));
    expect(md).toContain('| dmlab:rooms_watermaze | baseline | 4 | 3 | 30 | 20 | 40 | 51.9 |');
    const csv = toCsv(summaryTable(summaryRows(runs)));
    expect(csv.split('\n')[0]).toBe('level,agent,runs,best,bestMean,bestMin,bestMax,humanNormalized,bestTestReturn');
    const files = writeResults(runs, path.join(root, 'out'));
    expect(fs.readFileSync(files.csv, 'utf8').trim().split('\n')).toHaveLength(9);
    expect(fs.readFileSync(files.markdown, 'utf8')).toContain('## Every run');
  });
});

/** Runs of one level whose final returns (last two episodes, equal) are the given values. */
function writeLevel(root: string, env: string, finals: Record<'baseline' | 'cpc', number[]>): void {
  for (const agent of ['baseline', 'cpc'] as const) {
    finals[agent].forEach((f, i) =>
      writeFixtureRun(path.join(root, env.replace(':', '-'), `${agent}-t0${i}`), { env, agent, seed: i, episodes: [[100, f], [200, f]] }),
    );
  }
}

describe('CPC vs baseline', () => {
  it('best-n mean is the mean of the n largest values, or of all when fewer', () => {
    expect(bestMean([1, 9, 3, 7], 3)).toBeCloseTo((9 + 7 + 3) / 3, 12);
    expect(bestMean([4, 2], 3)).toBe(3);
  });

  it('the bootstrap interval of one lucky run among three includes 0 (hand-computed quantiles)', () => {
    // b's best-3 mean over a resample is its count of 3s: 0, 1, 2, 3 with probabilities 8/27, 12/27, 6/27, 1/27,
    // so the 2.5% quantile is 0 and the 97.5% quantile is 3 (P(<= 2) = 26/27 < 0.975).
    const d = bootstrapDifference([0, 0, 0], [0, 0, 3], 3, { resamples: 20000, confidence: 0.95, rng: new Rng(1) });
    expect(d.difference).toBe(1);
    expect(d.lo).toBe(0);
    expect(d.hi).toBe(3);
  });

  it('identical run sets give a zero-width interval at 0', () => {
    const d = bootstrapDifference([2, 2, 2, 2], [2, 2, 2, 2], 3, { resamples: 1000, confidence: 0.95, rng: new Rng(2) });
    expect(d).toEqual({ difference: 0, lo: 0, hi: 0 });
  });

  it('claims a difference only where the interval excludes 0, and says when runs are too few', () => {
    const root = tmp();
    writeLevel(root, 'builtin:seekavoid_arena_01', { baseline: [1, 2, 3, 4], cpc: [11, 12, 13, 14] });
    writeLevel(root, 'builtin:rooms_watermaze', { baseline: [1, 5, 9, 13], cpc: [2, 6, 10, 14] });
    writeLevel(root, 'builtin:explore_goal_locations_small', { baseline: [20, 21, 22], cpc: [1, 2, 3] });
    writeLevel(root, 'builtin:rooms_keys_doors_puzzle', { baseline: [1, 2, 3], cpc: [10, 20] });
    const rows = compareAgents(findRunDirs([root]).map(loadRun), { resamples: 4000 });
    const by = (level: string) => rows.find((r) => r.level === level)!;

    const seek = by('builtin:seekavoid_arena_01');
    // best 3: (14 + 13 + 12) / 3 - (4 + 3 + 2) / 3 = 10; every resample's difference lies in [7, 13]
    expect(seek).toMatchObject({ baselineRuns: 4, cpcRuns: 4, baselineBest: 3, cpcBest: 13, difference: 10 });
    expect(seek.lo).toBeGreaterThanOrEqual(7);
    expect(seek.hi).toBeLessThanOrEqual(13);
    expect(seek.verdict).toMatch(/^CPC higher/);

    const water = by('builtin:rooms_watermaze');
    expect(water.difference).toBeCloseTo(1, 12);
    expect(water.lo).toBeLessThan(0);
    expect(water.hi).toBeGreaterThan(0);
    expect(water.verdict).toBe('no difference detectable at this budget');

    expect(by('builtin:explore_goal_locations_small').verdict).toMatch(/^baseline higher/);

    const keys = by('builtin:rooms_keys_doors_puzzle');
    expect(keys).toMatchObject({ cpcRuns: 2, cpcBest: 15, baselineBest: 2, difference: 13 });
    expect(Number.isNaN(keys.lo)).toBe(true);
    expect(keys.verdict).toMatch(/too few runs/);
  });

  it('the same runs and seed give the same interval; results.md and comparison.csv carry it', () => {
    const root = tmp();
    writeLevel(root, 'builtin:rooms_watermaze', { baseline: [1, 5, 9, 13], cpc: [2, 6, 10, 14] });
    const runs = findRunDirs([root]).map(loadRun);
    expect(compareAgents(runs, { seed: 3 })).toEqual(compareAgents(runs, { seed: 3 }));
    const files = writeResults(runs, path.join(root, 'out'));
    expect(fs.readFileSync(files.markdown, 'utf8')).toContain('| no difference detectable at this budget |');
    const csv = fs.readFileSync(files.comparisonCsv, 'utf8').trim().split('\n');
    expect(csv[0]).toBe('level,baselineRuns,cpcRuns,baselineBest,cpcBest,difference,lo,hi,verdict');
    expect(csv).toHaveLength(2);
  });
});
