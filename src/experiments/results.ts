/**
 * Results of a set of runs: read run folders, compute each run's final return, the papers'
 * statistic (mean of the best 3 runs per level and agent by final return), human-normalised scores
 * where the level has DMLab-30 human/random scores, and the curves the figures draw.
 *
 * Human-normalised scores exist only for `dmlab:` levels with DMLab-30 scores. The built-in levels
 * keep their namesakes' point but not their reward scales (a random agent scores differently), so
 * normalising them with DeepMind Lab's human and random scores would be meaningless; they get none.
 */
import fs from 'node:fs';
import path from 'node:path';
import { humanNormalizedScore } from '../../envs/dmlab/levels.js';
import { Rng } from '../rng.js';
import type { RunRecord } from '../run.js';

/** What `cpc-lab eval` stores in a run folder (`eval.json`). */
export interface EvalRecord {
  env: string;
  episodes: number;
  greedy: boolean;
  seed: number;
  returns: number[];
  mean: number;
  std: number;
  /** Training frames of the evaluated checkpoint. */
  checkpointFrames: number;
  humanNormalized?: number;
}

export const EVAL_FILE = 'eval.json';

export interface RunData {
  dir: string;
  record: RunRecord;
  /** Episode ends in training order. */
  episodes: { frames: number; episodeReturn: number }[];
  /** Per-k CPC accuracy of each update that reported it (cpc agents). */
  cpcAccuracy: { frames: number; accuracy: (number | null)[] }[];
  /** Frames of the last update. */
  frames: number;
  evaluation?: EvalRecord;
}

/** Run folders (holding `config.json` and `metrics.jsonl`) at or below each path, sorted. */
export function findRunDirs(paths: string[]): string[] {
  const found = new Set<string>();
  const visit = (dir: string) => {
    if (fs.existsSync(path.join(dir, 'config.json')) && fs.existsSync(path.join(dir, 'metrics.jsonl'))) {
      found.add(path.resolve(dir));
      return;
    }
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) if (e.isDirectory()) visit(path.join(dir, e.name));
  };
  for (const p of paths) {
    if (!fs.existsSync(p) || !fs.statSync(p).isDirectory()) throw new Error(`${p} is not a folder`);
    visit(p);
  }
  return [...found].sort();
}

/** A run folder's `config.json`. */
export function readRunRecord(dir: string): RunRecord {
  const file = path.join(dir, 'config.json');
  if (!fs.existsSync(file)) throw new Error(`${file} does not exist (is ${dir} a run folder?)`);
  return JSON.parse(fs.readFileSync(file, 'utf8')) as RunRecord;
}

/** Reads a run folder; torn or unparsable metric lines (a killed run) are skipped. */
export function loadRun(dir: string): RunData {
  const record = readRunRecord(dir);
  const run: RunData = { dir, record, episodes: [], cpcAccuracy: [], frames: 0 };
  for (const line of fs.readFileSync(path.join(dir, 'metrics.jsonl'), 'utf8').split('\n')) {
    let m: { kind?: string; frames?: number; episodeReturn?: number; cpcAccuracy?: (number | null)[] };
    try {
      m = JSON.parse(line) as typeof m;
    } catch {
      continue;
    }
    if (typeof m.frames !== 'number') continue;
    if (m.kind === 'episode' && typeof m.episodeReturn === 'number') run.episodes.push({ frames: m.frames, episodeReturn: m.episodeReturn });
    if (m.kind === 'update') {
      run.frames = Math.max(run.frames, m.frames);
      if (m.cpcAccuracy) run.cpcAccuracy.push({ frames: m.frames, accuracy: m.cpcAccuracy });
    }
  }
  const evalFile = path.join(dir, EVAL_FILE);
  if (fs.existsSync(evalFile)) run.evaluation = JSON.parse(fs.readFileSync(evalFile, 'utf8')) as EvalRecord;
  return run;
}

export const level = (r: RunData): string => r.record.config.env;
export const agent = (r: RunData): string => r.record.config.agent;

/** Episodes averaged into a return: the given number, else the run's own `returnWindow` (what its progress line shows). */
function windowOf(r: RunData, lastEpisodes?: number): number {
  return lastEpisodes ?? r.record.config.returnWindow;
}

function mean(xs: number[]): number {
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN;
}

/** Mean return of the last `lastEpisodes` episodes ended at or before `frames` (default: the whole run); NaN if none. */
export function returnAt(r: RunData, frames = Infinity, lastEpisodes?: number): number {
  let end = r.episodes.length;
  while (end > 0 && r.episodes[end - 1]!.frames > frames) end--;
  return mean(r.episodes.slice(Math.max(0, end - windowOf(r, lastEpisodes)), end).map((e) => e.episodeReturn));
}

/** The run's final return: mean of its last episodes. */
export function finalReturn(r: RunData, lastEpisodes?: number): number {
  return returnAt(r, Infinity, lastEpisodes);
}

/** The `n` runs with the highest final return (runs without episodes rank last and are left out). */
export function bestRuns(runs: RunData[], n = 3, lastEpisodes?: number): RunData[] {
  return runs
    .map((r) => ({ r, score: finalReturn(r, lastEpisodes) }))
    .filter((x) => !Number.isNaN(x.score))
    .sort((a, b) => b.score - a.score)
    .slice(0, n)
    .map((x) => x.r);
}

/** Runs grouped by level, then agent, in first-seen order. */
export function groupRuns(runs: RunData[]): Map<string, Map<string, RunData[]>> {
  const groups = new Map<string, Map<string, RunData[]>>();
  for (const r of runs) {
    const byAgent = groups.get(level(r)) ?? new Map<string, RunData[]>();
    groups.set(level(r), byAgent);
    byAgent.set(agent(r), [...(byAgent.get(agent(r)) ?? []), r]);
  }
  return groups;
}

export interface RunRow {
  level: string;
  agent: string;
  run: string;
  seed: number;
  learningRate: number;
  entropyCost: number;
  rmspropEpsilon: number;
  frames: number;
  episodes: number;
  finalReturn: number;
  humanNormalized?: number;
  /** Mean return of `cpc-lab eval`, when it was run on the run's own level. */
  testReturn?: number;
}

export interface SummaryRow {
  level: string;
  agent: string;
  runs: number;
  /** Mean final return of the best `best` runs, and their spread. */
  bestMean: number;
  bestMin: number;
  bestMax: number;
  best: number;
  humanNormalized?: number;
  /** Mean test return of the same best runs, where each has one. */
  bestTestReturn?: number;
}

export interface ResultsOptions {
  /** Runs averaged in the papers' statistic (default 3). */
  best?: number;
  /** Episodes averaged into a final return (default: each run's `returnWindow`). */
  lastEpisodes?: number;
}

export function runRows(runs: RunData[], o: ResultsOptions = {}): RunRow[] {
  return runs.map((r) => {
    const c = r.record.config;
    const finalRet = finalReturn(r, o.lastEpisodes);
    const testReturn = r.evaluation?.env === c.env ? r.evaluation.mean : undefined;
    return {
      level: c.env,
      agent: c.agent,
      run: r.record.name,
      seed: c.seed,
      learningRate: c.learningRate,
      entropyCost: c.entropyCost,
      rmspropEpsilon: c.rmspropEpsilon,
      frames: r.frames,
      episodes: r.episodes.length,
      finalReturn: finalRet,
      humanNormalized: humanNormalizedScore(c.env, finalRet),
      testReturn,
    };
  });
}

export function summaryRows(runs: RunData[], o: ResultsOptions = {}): SummaryRow[] {
  const n = o.best ?? 3;
  const rows: SummaryRow[] = [];
  for (const [lvl, byAgent] of groupRuns(runs)) {
    for (const [ag, group] of byAgent) {
      const best = bestRuns(group, n, o.lastEpisodes);
      const finals = best.map((r) => finalReturn(r, o.lastEpisodes));
      const tests = best.flatMap((r) => (r.evaluation?.env === lvl ? [r.evaluation.mean] : []));
      const bestMean = mean(finals);
      rows.push({
        level: lvl,
        agent: ag,
        runs: group.length,
        best: best.length,
        bestMean,
        bestMin: finals.length ? Math.min(...finals) : Number.NaN,
        bestMax: finals.length ? Math.max(...finals) : Number.NaN,
        humanNormalized: humanNormalizedScore(lvl, bestMean),
        bestTestReturn: best.length && tests.length === best.length ? mean(tests) : undefined,
      });
    }
  }
  return rows;
}

/** What a comparison of CPC with the baseline on one level can say, and no more. */
export interface ComparisonRow {
  level: string;
  baselineRuns: number;
  cpcRuns: number;
  /** Mean final return of each agent's best `best` runs. */
  baselineBest: number;
  cpcBest: number;
  best: number;
  /** cpcBest - baselineBest, and its percentile-bootstrap interval. */
  difference: number;
  lo: number;
  hi: number;
  confidence: number;
  verdict: string;
}

export interface ComparisonOptions extends ResultsOptions {
  /** Bootstrap resamples (default 10000). */
  resamples?: number;
  /** Two-sided level of the interval (default 0.95). */
  confidence?: number;
  /** Seed of the resampling, so a report is reproducible (default 0). */
  seed?: number;
}

/** Mean of the `n` largest values (all of them if fewer). */
export function bestMean(values: readonly number[], n: number): number {
  return mean([...values].sort((a, b) => b - a).slice(0, n));
}

/** The q-quantile of sorted values, linearly interpolated. */
function quantile(sorted: readonly number[], q: number): number {
  const i = q * (sorted.length - 1);
  const lo = Math.floor(i);
  return lo + 1 < sorted.length ? sorted[lo]! + (i - lo) * (sorted[lo + 1]! - sorted[lo]!) : sorted[lo]!;
}

/**
 * Percentile-bootstrap interval of bestMean(b, n) - bestMean(a, n): each resample draws each
 * agent's runs with replacement (as many as it has), which is the spread of the statistic over
 * studies of the same size. Runs with no final return are left out by the caller.
 */
export function bootstrapDifference(
  a: readonly number[],
  b: readonly number[],
  n: number,
  o: { resamples: number; confidence: number; rng: Rng },
): { difference: number; lo: number; hi: number } {
  const draw = (xs: readonly number[]) => xs.map(() => xs[o.rng.int(xs.length)]!);
  const diffs: number[] = [];
  for (let i = 0; i < o.resamples; i++) diffs.push(bestMean(draw(b), n) - bestMean(draw(a), n));
  diffs.sort((x, y) => x - y);
  const tail = (1 - o.confidence) / 2;
  return { difference: bestMean(b, n) - bestMean(a, n), lo: quantile(diffs, tail), hi: quantile(diffs, 1 - tail) };
}

/**
 * Per level with both agents: the difference of best-n means (CPC minus baseline) with its bootstrap
 * interval, and a verdict that claims a difference only where the interval excludes 0. Levels with
 * fewer than n runs of an agent (with a final return) get no interval: too few runs to compare.
 */
export function compareAgents(runs: RunData[], o: ComparisonOptions = {}): ComparisonRow[] {
  const n = o.best ?? 3;
  const confidence = o.confidence ?? 0.95;
  const rng = new Rng(o.seed ?? 0);
  const rows: ComparisonRow[] = [];
  for (const [lvl, byAgent] of groupRuns(runs)) {
    const finals = (ag: string) => (byAgent.get(ag) ?? []).map((r) => finalReturn(r, o.lastEpisodes)).filter((v) => !Number.isNaN(v));
    const base = finals('baseline');
    const cpc = finals('cpc');
    if (!byAgent.has('baseline') || !byAgent.has('cpc')) continue;
    const row = { level: lvl, baselineRuns: base.length, cpcRuns: cpc.length, baselineBest: bestMean(base, n), cpcBest: bestMean(cpc, n), best: n, confidence };
    if (base.length < n || cpc.length < n) {
      rows.push({ ...row, difference: row.cpcBest - row.baselineBest, lo: Number.NaN, hi: Number.NaN, verdict: `too few runs to compare (best ${n} needs ${n} per agent)` });
      continue;
    }
    const d = bootstrapDifference(base, cpc, n, { resamples: o.resamples ?? 10000, confidence, rng });
    const pct = `${Math.round(confidence * 100)}%`;
    const verdict =
      d.lo > 0 ? `CPC higher (the ${pct} interval excludes 0)` : d.hi < 0 ? `baseline higher (the ${pct} interval excludes 0)` : 'no difference detectable at this budget';
    rows.push({ ...row, ...d, verdict });
  }
  return rows;
}

/** One point of a figure-6 curve: the best runs' mean return at `frames`, and their min and max. */
export interface CurvePoint {
  level: string;
  agent: string;
  frames: number;
  mean: number;
  lo: number;
  hi: number;
}

/**
 * Figure 6's curves: per level and agent, the best runs' return (mean of the last episodes as of
 * each frame count) on `points` frame counts up to the level's longest run; the band is min..max
 * over those runs. A run counts up to its own last frame; points where no best run has ended an
 * episode yet are left out.
 */
export function returnCurves(runs: RunData[], o: ResultsOptions & { points?: number } = {}): CurvePoint[] {
  const out: CurvePoint[] = [];
  const points = o.points ?? 100;
  for (const [lvl, byAgent] of groupRuns(runs)) {
    const maxFrames = Math.max(...[...byAgent.values()].flat().map((r) => r.frames));
    for (const [ag, group] of byAgent) {
      const best = bestRuns(group, o.best ?? 3, o.lastEpisodes);
      for (let i = 1; i <= points; i++) {
        const frames = (maxFrames * i) / points;
        const values = best.filter((r) => r.frames >= frames).map((r) => returnAt(r, frames, o.lastEpisodes)).filter((v) => !Number.isNaN(v));
        if (values.length) out.push({ level: lvl, agent: ag, frames, mean: mean(values), lo: Math.min(...values), hi: Math.max(...values) });
      }
    }
  }
  return out;
}

/** CPC accuracy at one k, for the accuracy-vs-k figure. */
export interface AccuracyPoint {
  level: string;
  k: number;
  accuracy: number;
  /** Chance: 1 / number of candidates (B with batch negatives, B x T with batch-time). */
  chance: number;
}

/**
 * Per level, the CPC accuracy against steps ahead k at the end of training: each run's mean over its
 * last `lastUpdates` updates, averaged over the best CPC runs (the same runs figure 6 draws).
 */
export function accuracyCurves(runs: RunData[], o: ResultsOptions & { lastUpdates?: number } = {}): AccuracyPoint[] {
  const out: AccuracyPoint[] = [];
  for (const [lvl, byAgent] of groupRuns(runs)) {
    const best = bestRuns(byAgent.get('cpc') ?? [], o.best ?? 3, o.lastEpisodes).filter((r) => r.cpcAccuracy.length);
    if (!best.length) continue;
    const K = Math.max(...best.map((r) => r.cpcAccuracy[0]!.accuracy.length));
    const c = best[0]!.record.config;
    const chance = 1 / (c.cpcNegatives === 'batch' ? c.batch : c.batch * c.unroll);
    for (let k = 1; k <= K; k++) {
      const perRun = best.map((r) => mean(r.cpcAccuracy.slice(-(o.lastUpdates ?? 10)).flatMap((u) => (typeof u.accuracy[k - 1] === 'number' ? [u.accuracy[k - 1] as number] : []))));
      const acc = mean(perRun.filter((v) => !Number.isNaN(v)));
      if (!Number.isNaN(acc)) out.push({ level: lvl, k, accuracy: acc, chance });
    }
  }
  return out;
}

const fmt = (x: number | undefined, digits = 3): string => (x === undefined || Number.isNaN(x) ? '' : Number.isInteger(x) ? String(x) : x.toPrecision(digits));

const RUN_COLUMNS: [keyof RunRow, string][] = [
  ['level', 'level'],
  ['agent', 'agent'],
  ['run', 'run'],
  ['seed', 'seed'],
  ['learningRate', 'learning rate'],
  ['entropyCost', 'entropy cost'],
  ['rmspropEpsilon', 'RMSProp ε'],
  ['frames', 'frames'],
  ['episodes', 'episodes'],
  ['finalReturn', 'final return'],
  ['humanNormalized', 'human-normalised %'],
  ['testReturn', 'test return'],
];

const SUMMARY_COLUMNS: [keyof SummaryRow, string][] = [
  ['level', 'level'],
  ['agent', 'agent'],
  ['runs', 'runs'],
  ['best', 'best n'],
  ['bestMean', 'mean of best n'],
  ['bestMin', 'min'],
  ['bestMax', 'max'],
  ['humanNormalized', 'human-normalised %'],
  ['bestTestReturn', 'test return of best n'],
];

const COMPARISON_COLUMNS: [keyof ComparisonRow, string][] = [
  ['level', 'level'],
  ['baselineRuns', 'baseline runs'],
  ['cpcRuns', 'CPC runs'],
  ['baselineBest', 'baseline, mean of best n'],
  ['cpcBest', 'CPC, mean of best n'],
  ['difference', 'CPC - baseline'],
  ['lo', 'interval low'],
  ['hi', 'interval high'],
  ['verdict', 'what the data shows'],
];

/** Cells as text; numbers with 3 significant digits (4 for hyperparameters). */
function cells<R>(rows: R[], columns: [keyof R, string][]): string[][] {
  return rows.map((row) => columns.map(([key]) => {
    const v = row[key];
    return typeof v === 'number' ? fmt(v, key === 'learningRate' || key === 'entropyCost' ? 4 : 3) : v === undefined ? '' : String(v);
  }));
}

export interface ResultTable<R> {
  columns: [keyof R, string][];
  rows: R[];
}

export const runTable = (rows: RunRow[]): ResultTable<RunRow> => ({ columns: RUN_COLUMNS, rows });
export const summaryTable = (rows: SummaryRow[]): ResultTable<SummaryRow> => ({ columns: SUMMARY_COLUMNS, rows });
export const comparisonTable = (rows: ComparisonRow[]): ResultTable<ComparisonRow> => ({ columns: COMPARISON_COLUMNS, rows });

/** How the comparison is made, for the reports. */
export function comparisonNote(n: number, confidence = 0.95): string {
  return (
    `CPC vs baseline per level: the difference of the means of the best ${n} runs (CPC minus baseline), with a ` +
    `${Math.round(confidence * 100)}% percentile-bootstrap interval (each agent's runs resampled with replacement). ` +
    'A difference is claimed only where the interval excludes 0; otherwise none is detectable with these runs at this budget.'
  );
}

export function toMarkdown<R>(t: ResultTable<R>): string {
  const header = t.columns.map(([, title]) => title);
  const lines = [header, header.map(() => '---'), ...cells(t.rows, t.columns)].map((r) => `| ${r.join(' | ')} |`);
  return lines.join('\n') + '\n';
}

export function toCsv<R>(t: ResultTable<R>): string {
  const quote = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const raw = t.rows.map((row) => t.columns.map(([key]) => (row[key] === undefined || Number.isNaN(row[key]) ? '' : String(row[key]))));
  return [t.columns.map(([key]) => String(key)), ...raw].map((r) => r.map(quote).join(',')).join('\n') + '\n';
}

/** The cells of a table as text, for HTML. */
export function tableCells<R>(t: ResultTable<R>): { header: string[]; rows: string[][] } {
  return { header: t.columns.map(([, title]) => title), rows: cells(t.rows, t.columns) };
}

/**
 * Writes `results.md` (CPC vs baseline, summary, then every run), `results.csv` (every run),
 * `summary.csv` and `comparison.csv` into `outDir`; returns the file paths.
 */
export function writeResults(
  runs: RunData[],
  outDir: string,
  o: ComparisonOptions = {},
): { markdown: string; csv: string; summaryCsv: string; comparisonCsv: string } {
  fs.mkdirSync(outDir, { recursive: true });
  const n = o.best ?? 3;
  const summary = summaryTable(summaryRows(runs, o));
  const comparison = comparisonTable(compareAgents(runs, o));
  const all = runTable(runRows(runs, o));
  const files = {
    markdown: path.join(outDir, 'results.md'),
    csv: path.join(outDir, 'results.csv'),
    summaryCsv: path.join(outDir, 'summary.csv'),
    comparisonCsv: path.join(outDir, 'comparison.csv'),
  };
  const window = o.lastEpisodes ? `the last ${o.lastEpisodes} episodes` : "the last `returnWindow` episodes of each run";
  fs.writeFileSync(
    files.markdown,
    `# Results\n\nFinal return: mean return of ${window}. Per level and agent: mean of the best ${n} runs by final return ` +
      `(the papers' statistic), with their min and max. Human-normalised: 100 (return - random) / (human - random) with DMLab-30's ` +
      `scores, for DeepMind Lab levels that have them.\n\n## CPC vs baseline\n\n${comparisonNote(n, o.confidence)}\n\n${toMarkdown(comparison)}\n` +
      `## Best ${n}\n\n${toMarkdown(summary)}\n## Every run\n\n${toMarkdown(all)}`,
  );
  fs.writeFileSync(files.csv, toCsv(all));
  fs.writeFileSync(files.comparisonCsv, toCsv(comparison));
  fs.writeFileSync(files.summaryCsv, toCsv(summary));
  return files;
}
