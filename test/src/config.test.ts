import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addConfigOptions, configFromOptions } from '../../src/cli/configOptions.js';
import { CONFIG_GROUPS, ConfigSchema, envOptions, resolveConfig, runName, verifyConfig } from '../../src/config.js';

describe('config', () => {
  it("defaults are scalable_agent's and the CPC paper's", () => {
    const c = resolveConfig({});
    expect(c).toMatchObject({
      learningRate: 0.00048,
      entropyCost: 0.00025,
      rmspropEpsilon: 0.1,
      rmspropDecay: 0.99,
      rmspropMomentum: 0,
      batch: 32,
      unroll: 100,
      actionRepeat: 4,
      discount: 0.99,
      baselineCost: 0.5,
      cpcSteps: 30,
      cpcNegatives: 'batch',
      gradClip: 0,
      rewardClipping: 'abs_one',
    });
    expect(runName(c)).toBe('cpc-rooms_watermaze-s1');
  });

  it('reports every error at once, each naming its setting', () => {
    const r = verifyConfig({ learningRate: -1, batch: 2.5, agent: 'dqn', bogus: 1 });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors.length).toBeGreaterThanOrEqual(4);
    for (const key of ['learningRate', 'batch', 'agent', 'bogus']) expect(r.errors.join('\n')).toContain(key);
  });

  it('cross-checks settings that only make sense together', () => {
    const r = verifyConfig({ cpcSteps: 40, unroll: 20, frames: 10, env: 'gym:Pong' });
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors).toEqual([
      expect.stringMatching(/cpcSteps: K = 40 must be smaller than the unroll length T = 20/),
      expect.stringMatching(/frames: 10 is less than one batch/),
      expect.stringMatching(/env: 'gym:Pong' must look like mock:<name>/),
    ]);
  });

  it('the CLI only translates flags into the schema', () => {
    const cmd = addConfigOptions(new Command().exitOverride());
    cmd.parse(['--env', 'mock:memory', '--frames', '50000', '--agent', 'baseline', '--learning-rate', '0.001', '--cpc-stop-gradient', '--run-dir', '/tmp/x'], {
      from: 'user',
    });
    const c = resolveConfig(configFromOptions(cmd.opts()));
    expect(c).toMatchObject({ env: 'mock:memory', frames: 50000, agent: 'baseline', learningRate: 0.001, cpcStopGradient: true, runDir: '/tmp/x' });
    const bad = addConfigOptions(new Command().exitOverride());
    bad.parse(['--frames', 'lots'], { from: 'user' });
    const r = verifyConfig(configFromOptions(bad.opts()));
    expect(r.ok === false && r.errors.some((e) => e.startsWith('frames:'))).toBe(true);
  });

  it('dmlabCompileTimeout (seconds, default 600) reaches the DeepMind Lab bridges in ms', () => {
    expect(envOptions(resolveConfig({})).dmlab.compileTimeoutMs).toBe(600_000);
    const cmd = addConfigOptions(new Command().exitOverride());
    cmd.parse(['--dmlab-compile-timeout', '30'], { from: 'user' });
    expect(envOptions(resolveConfig(configFromOptions(cmd.opts()))).dmlab.compileTimeoutMs).toBe(30_000);
    expect(verifyConfig({ dmlabCompileTimeout: 0 }).ok).toBe(false);
  });

  it('--help lists the settings in sections (environment, agent, CPC, optimisation, runtime, logging), each flag once', () => {
    const grouped = Object.values(CONFIG_GROUPS).flat();
    expect([...grouped].sort()).toEqual(Object.keys(ConfigSchema.shape).sort());
    const help = addConfigOptions(new Command('train')).helpInformation({ error: false });
    const headings = help.split('\n').filter((l) => /^\S.*options:$/.test(l));
    expect(headings).toEqual(['Environment options:', 'Agent options:', 'CPC options:', 'Optimisation options:', 'Runtime options:', 'Logging options:']);
    const section = (h: string) => help.split(`${h}\n`)[1]!.split('\n\n')[0];
    expect(section('CPC options:')).toMatch(/--cpc-steps <number>/);
    expect(section('Optimisation options:')).toMatch(/--learning-rate <number>/);
    expect(section('Environment options:')).toMatch(/--env <value>/);
    for (const key of grouped) expect(help.match(new RegExp(`--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}\\b`, 'g')), key).toHaveLength(1);
  });
});
