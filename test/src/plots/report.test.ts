import fs from 'node:fs';
import path from 'node:path';
import { PNG } from 'pngjs';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { findRunDirs, loadRun, returnCurves } from '../../../src/experiments/results.js';
import { AGENT_COLOURS, figure6Spec, toSvg } from '../../../src/plots/figures.js';
import { writeReport } from '../../../src/plots/report.js';
import { findChromium, NO_CHROMIUM } from '../../helpers/chromium.js';
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
      expect([png.width, png.height]).toEqual([2 * width!, 2 * height!]);
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

const CHROMIUM = findChromium();
if (!CHROMIUM) console.warn(`the HTML report in a browser: ${NO_CHROMIUM}`);

describe.skipIf(!CHROMIUM)('the HTML report in headless Chromium', () => {
  it('loads without an error, every figure image decodes, every link resolves; a screenshot shows the page', async () => {
    const root = twoByTwo();
    const out = path.join(root, 'report');
    const report = await writeReport({ paths: [root], out });
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      const problems: string[] = [];
      page.on('console', (m) => m.type() === 'error' && problems.push(`console: ${m.text()}`));
      page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
      page.on('requestfailed', (r) => problems.push(`failed: ${r.url()}`));
      await page.goto(`file://${report.html}`, { waitUntil: 'load' });
      const images = await page.$$eval('img', (imgs) =>
        imgs.map((i) => ({ src: i.getAttribute('src'), complete: i.complete, width: i.naturalWidth, height: i.naturalHeight, shown: [i.clientWidth, i.clientHeight] })),
      );
      expect(images.map((i) => i.src)).toEqual(report.figures.map((f) => path.basename(f.png)));
      for (const f of report.figures) {
        const png = PNG.sync.read(fs.readFileSync(f.png));
        // the 2x PNG decoded, shown at the figure's own size (sharp on high-density screens)
        expect(images.find((i) => i.src === path.basename(f.png))).toEqual({ src: path.basename(f.png), complete: true, width: png.width, height: png.height, shown: [png.width / 2, png.height / 2] });
      }
      const links = await page.$$eval('a[href]', (as) => as.map((a) => a.getAttribute('href')!));
      expect(links.length).toBeGreaterThanOrEqual(2 * report.figures.length + 4);
      for (const href of links) expect(fs.existsSync(path.join(out, decodeURIComponent(href))), href).toBe(true);
      expect(await page.$$eval('table', (t) => t.length)).toBe(3);
      expect(problems).toEqual([]);

      const shot = path.join(out, 'screenshot.png');
      await page.screenshot({ path: shot, fullPage: true });
      const png = PNG.sync.read(fs.readFileSync(shot));
      expect(png.width).toBe(1280);
      expect(png.height).toBeGreaterThan(900); // figures, tables and settings: more than one screen
      // not a blank page: the figures' black and red curves are in it
      let dark = 0;
      for (let i = 0; i < png.data.length; i += 4) if (png.data[i]! + png.data[i + 1]! + png.data[i + 2]! < 150) dark++;
      expect(dark / (png.width * png.height)).toBeGreaterThan(0.001);
    } finally {
      await browser.close();
    }
  });
});
