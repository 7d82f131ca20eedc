import { env } from '@tensorflow/tfjs-core';

/**
 * Silences tfjs's console messages, among them the cpu backend's banner on its first tensor ("Hi, looks like you
 * are running TensorFlow.js in Node.js ..."): the backend line cpc-lab prints says what runs. tfjs's `PROD` flag is
 * its switch for them (tfjs PR 5368); `initBackend` lifts it while a backend initialises, so a failure's warning
 * still shows. Its own module, light to import: every test file calls it (test/setup.ts).
 */
export function quietTfjs(): void {
  env().set('PROD', true);
}
