/**
 * `cpc-lab plot`: from run or study folders, the figures (PNG + SVG), the results tables
 * (Markdown + CSV) and one HTML page that shows and links them, with every run's config.
 */
import fs from 'node:fs';
import path from 'node:path';
import {
  accuracyCurves,
  compareAgents,
  comparisonNote,
  comparisonTable,
  findRunDirs,
  loadRun,
  returnCurves,
  runRows,
  runTable,
  summaryRows,
  summaryTable,
  tableCells,
  writeResults,
  type ComparisonOptions,
  type ResultTable,
} from '../experiments/results.js';
import { readStudy, STUDY_FILE } from '../experiments/study.js';
import { accuracySpec, figure6Spec, writeFigure } from './figures.js';

export interface ReportOptions extends ComparisonOptions {
  /** Run folders, or folders holding run folders (a study). */
  paths: string[];
  out: string;
  title?: string;
}

export interface Report {
  html: string;
  figures: { svg: string; png: string; width: number; height: number }[];
  tables: string[];
  runs: number;
}

const escape = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function htmlTable<R>(t: ResultTable<R>): string {
  const { header, rows } = tableCells(t);
  const tr = (cells: string[], tag: string) => `<tr>${cells.map((c) => `<${tag}>${escape(c)}</${tag}>`).join('')}</tr>`;
  return `<table>\n<thead>${tr(header, 'th')}</thead>\n<tbody>\n${rows.map((r) => tr(r, 'td')).join('\n')}\n</tbody>\n</table>`;
}

/** Writes figures, tables and `index.html` into `o.out`; throws if the paths hold no runs. */
export async function writeReport(o: ReportOptions): Promise<Report> {
  const dirs = findRunDirs(o.paths);
  if (!dirs.length) throw new Error(`no runs (folders with config.json and metrics.jsonl) in ${o.paths.join(', ')}`);
  // levels in the order the studies list them (the paper's), then any others as found
  const order = o.paths.flatMap((p) => readStudy(p)?.levels ?? []);
  const rank = (level: string) => (order.includes(level) ? order.indexOf(level) : order.length);
  const runs = dirs.map(loadRun).sort((a, b) => rank(a.record.config.env) - rank(b.record.config.env));
  const best = o.best ?? 3;
  fs.mkdirSync(o.out, { recursive: true });
  const figures = [await writeFigure(figure6Spec(returnCurves(runs, o), best), path.join(o.out, 'figure6_returns'))];
  const accuracy = accuracyCurves(runs, o);
  if (accuracy.length) figures.push(await writeFigure(accuracySpec(accuracy), path.join(o.out, 'cpc_accuracy')));
  const tables = writeResults(runs, o.out, o);

  const rel = (f: string) => escape(path.relative(o.out, f).split(path.sep).join('/'));
  const title = o.title ?? 'cpc-lab results';
  const figureHtml = figures.map((f) => `<figure><a href="${rel(f.svg)}"><img src="${rel(f.png)}" alt="${rel(f.png)}" width="${f.width}" height="${f.height}"></a><figcaption><a href="${rel(f.png)}">PNG</a> · <a href="${rel(f.svg)}">SVG</a></figcaption></figure>`);
  const configs = runs.map((r) => `<details><summary>${escape(r.record.name)} <small>(${rel(r.dir)})</small></summary><pre>${escape(fs.readFileSync(path.join(r.dir, 'config.json'), 'utf8'))}</pre></details>`);
  const studies = o.paths.filter((p) => fs.existsSync(path.join(p, STUDY_FILE)));
  const studyHtml = studies.map((p) => `<details><summary>study ${escape(p)}</summary><pre>${escape(fs.readFileSync(path.join(p, STUDY_FILE), 'utf8'))}</pre></details>`);
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escape(title)}</title>
<style>
body { font-family: DejaVu Sans, Helvetica, Arial, sans-serif; margin: 2em; color: #222; }
img { max-width: 100%; height: auto; border: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.85em; margin-bottom: 1.5em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.5em; text-align: right; }
th { background: #f3f3f3; } td:nth-child(-n+3) { text-align: left; }
pre { background: #f7f7f7; padding: 0.5em; overflow-x: auto; font-size: 0.8em; }
</style></head><body>
<h1>${escape(title)}</h1>
<p>${runs.length} runs from ${o.paths.map(escape).join(', ')}; generated ${new Date().toISOString()}.
Final return: mean return of the last ${o.lastEpisodes ?? '<code>returnWindow</code>'} episodes of a run.
Curves and the summary use the best ${best} runs per level and agent by final return.</p>
<h2>Figures</h2>
${figureHtml.join('\n')}
<h2>CPC vs baseline</h2>
<p>${escape(comparisonNote(best, o.confidence))}</p>
${htmlTable(comparisonTable(compareAgents(runs, o)))}
<h2>Best ${best} per level and agent</h2>
${htmlTable(summaryTable(summaryRows(runs, o)))}
<h2>Every run</h2>
${htmlTable(runTable(runRows(runs, o)))}
<p>Tables as files: <a href="${rel(tables.markdown)}">results.md</a> · <a href="${rel(tables.csv)}">results.csv</a> · <a href="${rel(tables.summaryCsv)}">summary.csv</a> · <a href="${rel(tables.comparisonCsv)}">comparison.csv</a></p>
<h2>Settings</h2>
${[...studyHtml, ...configs].join('\n')}
</body></html>
`;
  const htmlFile = path.join(o.out, 'index.html');
  fs.writeFileSync(htmlFile, html);
  return { html: htmlFile, figures, tables: Object.values(tables), runs: runs.length };
}
