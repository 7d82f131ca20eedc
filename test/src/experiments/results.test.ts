import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  accuracyCurves,
  bestRuns,
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
    expect(acc[0].accuracy).toBeCloseTo(0.7, 10);
    expect(acc[1].accuracy).toBeCloseTo(0.375, 10);
    expect(acc[2].accuracy).toBeCloseTo(0.3, 10);
    expect(acc[0].chance).toBe(1 / 4);
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
