import fs from 'node:fs';

/**
 * A Chromium for browser tests: $CPC_LAB_CHROMIUM, else Debian's `chromium` package (its binary, not
 * the wrapper script), else other usual places. Undefined where there is none.
 */
export function findChromium(): string | undefined {
  const candidates = [process.env.CPC_LAB_CHROMIUM, '/usr/lib/chromium/chromium', '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];
  return candidates.find((c): c is string => !!c && fs.existsSync(c));
}

export const NO_CHROMIUM =
  'skipped: no Chromium found (apt-get install -y chromium, or set CPC_LAB_CHROMIUM to a Chromium or Chrome binary)';
