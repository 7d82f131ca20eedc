import { describe, expect, it } from 'vitest';
import { formatProgress, ReturnWindow } from '../../src/metrics.js';

describe('the progress line', () => {
  const returns = new ReturnWindow(10);
  returns.push(1);
  const line = (last: Parameters<typeof formatProgress>[0]['last']) =>
    formatProgress({ label: 'baseline mock:memory', frames: 500, totalFrames: 1000, fps: 100, returns, last, costs: { baselineCost: 0.5, entropyCost: 0.01 } });

  it('shows each loss term as it enters the loss (weighted by its cost), so they add up to the loss', () => {
    // sum pi log pi = -120 (raw), baseline 0.5 sum(adv^2) = 8 (raw): weighted -1.2 and 4
    const l = line({ loss: 2 + 4 - 1.2, policyGradientLoss: 2, baselineLoss: 8, entropyLoss: -120, learningRate: 1e-3 });
    expect(l).toContain('loss 4.80 = pg 2.00 + v 4.00 + ent -1.20');
    expect(l).not.toMatch(/-120/);
  });

  it('with CPC the InfoNCE term is the rest of the loss; its mean and the accuracy at k = 1 follow', () => {
    const l = line({ loss: 2 + 4 - 1.2 + 3, policyGradientLoss: 2, baselineLoss: 8, entropyLoss: -120, learningRate: 1e-3, cpcLoss: 1.5, cpcAccuracy: [0.25, 0.1] });
    expect(l).toContain('loss 7.80 = pg 2.00 + v 4.00 + ent -1.20 + cpc 3.00');
    expect(l).toContain('infoNCE 1.50 acc@1 0.25');
  });
});
