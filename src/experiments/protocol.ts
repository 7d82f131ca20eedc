export interface Recipe {
  learningRate: number;
  entropyCost: number;
  rmspropEpsilon: number;
}

/** How reproduce's plan names each setting of a recipe. */
export const RECIPE_NAMES: Readonly<Record<keyof Recipe, string>> = { learningRate: 'learning rate', entropyCost: 'entropy cost', rmspropEpsilon: 'RMSProp ε' };

/**
 * The small-budget protocol (README, "The small-budget protocol"): one fixed recipe instead of the
 * paper's search, so every run counts in the best-3 statistic; short unrolls (10x more updates per
 * frame than B = 32, T = 100), CPC horizon K = 10 < T, full-length (calibrated) episodes. One place,
 * read by `npm run reproduce`, the README's main job and the per-level learning tests.
 *
 * The recipe is the one that made builtin:seekavoid_arena_01 learn (README): RMSProp with a small ε
 * normalises each parameter's step, so the summed loss of a 320-step batch moves the policy (return
 * 1.1 -> ~3.5 by 800k frames); with the paper's ε = 0.1 inside the square root, which dwarfs the
 * mean square of these smaller gradients, the best of four tries reached ~1.5 by 600k frames.
 */
export const SMALL_BUDGET_RECIPE: Recipe = {
  learningRate: 0.002,
  entropyCost: 0.001,
  rmspropEpsilon: 1e-5,
};

/**
 * Where a built-in level departs from the recipe. lasertag: random play tags ~0.27 times in a
 * 3,600-step episode, a reward every ~40 batches, and at entropy cost 0.001 the entropy bonus held
 * the policy within 5% of its maximum entropy for 1-2M frames (3 seeds rose only at 2-2.75M); at 1e-4
 * all three rose by ~1.2M frames (README, "The small-budget protocol").
 */
export const SMALL_BUDGET_LEVEL_RECIPES: Readonly<Record<string, Partial<Recipe>>> = {
  lasertag_three_opponents_small: { entropyCost: 1e-4 },
};

/** The recipe of built-in level `level` (its name without `builtin:`). */
export function smallBudgetRecipe(level: string): Recipe {
  return { ...SMALL_BUDGET_RECIPE, ...SMALL_BUDGET_LEVEL_RECIPES[level] };
}

/**
 * Shapes of the small-budget protocol's batches (B, T), its CPC horizon K, and the paper's batched
 * A2C (`sync`, lag 0): its results were measured so, and its runs go two at a time on two cores,
 * where overlapping acting with learning inside a run has no core to gain.
 */
export const SMALL_BUDGET_TRAIN = { batch: 16, unroll: 20, cpcSteps: 10, mode: 'sync' } as const;
