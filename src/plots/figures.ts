/**
 * The study's figures as vega-lite specs, rendered headless: vega-lite -> vega -> SVG (vega's
 * `View.toSVG`, no browser), SVG -> PNG with resvg.
 *
 * - Figure 6 of the CPC paper: one panel per level, episode return against environment frames,
 *   baseline black, CPC red, the mean of the best 3 runs with a band (min..max over those runs).
 * - The CPC accuracy against steps ahead k at the end of training, one line per level, with
 *   chance (dashed).
 */
import fs from 'node:fs';
import path from 'node:path';
import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import type { AccuracyPoint, CurvePoint } from '../experiments/results.js';

/** The paper's colours. */
export const AGENT_COLOURS = { baseline: '#000000', cpc: '#d62728' } as const;

// Fonts resvg finds on most systems (it has no browser defaults to fall back on).
const FONT = 'DejaVu Sans, Helvetica, Arial, Liberation Sans, sans-serif';
const PANEL = { width: 240, height: 180 };

/** Figure 6: return vs frames, one panel per level (in order of appearance), best-n mean and band. */
export function figure6Spec(points: CurvePoint[], best = 3): TopLevelSpec {
  const levels = [...new Set(points.map((p) => p.level))];
  const agents = Object.keys(AGENT_COLOURS);
  const x = { field: 'frames', type: 'quantitative', title: 'environment frames', scale: { zero: true }, axis: { format: '~s', tickCount: 4 } } as const;
  const color = {
    field: 'agent',
    type: 'nominal',
    title: null,
    scale: { domain: agents, range: Object.values(AGENT_COLOURS) },
    legend: { labelExpr: "datum.label === 'cpc' ? 'CPC' : datum.label" },
  } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'Episode return', subtitle: `mean of the best ${best} runs per level and agent (band: their min..max)` },
    data: { values: points },
    facet: { field: 'level', type: 'nominal', title: null, sort: levels },
    columns: Math.min(levels.length, 5),
    spec: {
      ...PANEL,
      layer: [
        { mark: { type: 'area', opacity: 0.18 }, encoding: { x, y: { field: 'lo', type: 'quantitative', title: 'episode return', axis: { format: '~g' } }, y2: { field: 'hi' }, color } },
        { mark: { type: 'line', strokeWidth: 2 }, encoding: { x, y: { field: 'mean', type: 'quantitative' }, color } },
      ],
    },
    resolve: { scale: { x: 'independent', y: 'independent' } },
    // legend symbols as the lines, not the faint bands
    config: { font: FONT, legend: { orient: 'top', symbolType: 'stroke', symbolOpacity: 1, symbolStrokeWidth: 3 } },
  };
}

/** CPC accuracy against k, one line per level, chance dashed in the level's colour. */
export function accuracySpec(points: AccuracyPoint[]): TopLevelSpec {
  const levels = [...new Set(points.map((p) => p.level))];
  const color = { field: 'level', type: 'nominal', title: null, sort: levels } as const;
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: { text: 'CPC accuracy against steps ahead k', subtitle: 'end of training, mean over the best CPC runs; dashed: chance' },
    data: { values: points },
    width: 420,
    height: 260,
    layer: [
      {
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'k', type: 'quantitative', title: 'steps ahead k', axis: { tickMinStep: 1 } },
          y: { field: 'accuracy', type: 'quantitative', title: 'accuracy (positive ranked first)', scale: { domain: [0, 1] } },
          color,
        },
      },
      { mark: { type: 'rule', strokeDash: [4, 4] }, encoding: { y: { field: 'chance', type: 'quantitative' }, color } },
    ],
    config: { font: FONT, legend: { orient: 'bottom', columns: 2, labelLimit: 0 } },
  };
}

/** Renders a vega-lite spec to SVG without a browser. */
export async function toSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Rasterises an SVG at `scale` x its size (resvg's native binary loads on first use only). */
export async function svgToPng(svg: string, scale = 2): Promise<Buffer> {
  const { Resvg } = await import('@resvg/resvg-js');
  return new Resvg(svg, { fitTo: { mode: 'zoom', value: scale }, background: 'white', font: { loadSystemFonts: true } }).render().asPng();
}

/** Writes `<base>.svg` and `<base>.png` (the PNG at `scale` x); returns both paths and the figure's size in CSS pixels (the SVG's). */
export async function writeFigure(spec: TopLevelSpec, base: string, scale = 2): Promise<{ svg: string; png: string; width: number; height: number }> {
  fs.mkdirSync(path.dirname(base), { recursive: true });
  const svg = await toSvg(spec);
  const files = { svg: `${base}.svg`, png: `${base}.png` };
  fs.writeFileSync(files.svg, svg);
  fs.writeFileSync(files.png, await svgToPng(svg, scale));
  const size = /<svg[^>]* width="([\d.]+)" height="([\d.]+)"/.exec(svg);
  if (!size) throw new Error(`writeFigure: the SVG of ${base} has no width and height`);
  return { ...files, width: Number(size[1]), height: Number(size[2]) };
}
