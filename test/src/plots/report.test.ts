import fs from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { findRunDirs, loadRun, returnCurves } from '../../../src/experiments/results.js';
import { AGENT_COLOURS, figure6Spec, toSvg } from '../../../src/plots/figures.js';
import { writeReport } from '../../../src/plots/report.js';
import { tmp, writeFixtureRun } from '../experiments/fixtures.js';

/** A two-agent, two-level study of fixture runs: 3 trials each, cpc runs report accuracy per k. */
function twoByTwo(): string {
  const root = tmp('cpc-lab-plot-');
  for (const env of ['mock:memory', 'builtin:seekavoid_arena_01']) {
    for (const agent of ['baseline', 'cpc'] as const) {
      for (let trial = 0; trial < 3; trial++) {
        const episodes: [number, number][] = Array.from({ length: 10 }, (_, i) => [(i + 1) * 100, i * (agent === 'cpc' ? 2 : 1) + trial]);
        const updates = agent === 'cpc' ? episodes.map(([f]) => [f, [0.6, 0.4, 0.3]] as [number, number[]]) : undefined;
        writeFixtureRun(path.join(root, env.replace(':', '-'), `${agent}-t0${trial}`), { env, agent, seed: trial, episodes, updates });
      }
    }
  }
  return root;
}

/** The SVG between each panel's line layer and the next one. */
function linePanels(svg: string): string[] {
  return svg.split('child_layer_1_pathgroup').slice(1);
}

describe('plots', () => {
  it('the figure-6 SVG of a two-agent two-level study has both series, black and red, in both panels', async () => {
    const runs = findRunDirs([twoByTwo()]).map(loadRun);
    const svg = await toSvg(figure6Spec(returnCurves(runs)));
    const panels = linePanels(svg);
    expect(panels).toHaveLength(2);
    for (const panel of panels) {
      const lines = panel.split('mark-line role-mark').slice(1);
      expect(lines).toHaveLength(2);
      expect(panel).toContain(`stroke="${AGENT_COLOURS.baseline}"`);
      expect(panel).toContain(`stroke="${AGENT_COLOURS.cpc}"`);
    }
    for (const level of ['mock:memory', 'builtin:seekavoid_arena_01']) expect(svg).toContain(`>${level}</text>`);
  });

  it('writes PNGs that decode at twice the SVG size, tables, and an HTML report linking every figure', async () => {
    const root = twoByTwo();
    const out = path.join(root, 'report');
    const report = await writeReport({ paths: [root], out });
    expect(report.runs).toBe(12);
    expect(report.figures.map((f) => path.basename(f.png))).toEqual(['figure6_returns.png', 'cpc_accuracy.png']);
    for (const f of report.figures) {
      const svg = fs.readFileSync(f.svg, 'utf8');
      const [, width, height] = /<svg[^>]* width="(\d+)" height="(\d+)"/.exec(svg)!.map(Number);
      const png = PNG.sync.read(fs.readFileSync(f.png));
      expect([png.width, png.height]).toEqual([2 * width, 2 * height]);
    }
    const html = fs.readFileSync(report.html, 'utf8');
    for (const f of report.figures) {
      expect(html).toContain(`src="${path.basename(f.png)}"`);
      expect(html).toContain(`href="${path.basename(f.svg)}"`);
    }
    for (const table of ['results.md', 'results.csv', 'summary.csv', 'comparison.csv']) expect(html).toContain(`href="${table}"`);
    // final returns: baseline 8.5, 9.5, 10.5; CPC 17, 18, 19, so every resampled difference is at least 6.5
    expect(html).toContain('<h2>CPC vs baseline</h2>');
    expect(html).toMatch(/<tr><td>builtin:seekavoid_arena_01<\/td><td>3<\/td><td>3<\/td><td>9\.50<\/td><td>18<\/td><td>8\.50<\/td><td>[^<]+<\/td><td>[^<]+<\/td><td>CPC higher/);
    expect(html).toContain('<td>mock:memory</td><td>cpc</td>');
    // every run's settings are in the page
    expect(html.match(/<details><summary>/g)).toHaveLength(12);
  });
});
