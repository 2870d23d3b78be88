import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';

// Debian's Chromium, driven headless by playwright-core. Without the networking flags it keeps
// trying to reach outside hosts, which this machine refuses.
const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

const haveChromium = existsSync(CHROMIUM);
const inCi = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';

/**
 * A describe block that needs Chromium: in CI without it, a failing test says what to install;
 * elsewhere the block is skipped with one line saying why.
 */
export function describeInBrowser(name: string, tests: () => void): void {
  if (haveChromium) {
    describe(name, tests);
    return;
  }
  if (inCi) {
    describe(name, () => {
      it('needs Chromium in CI', () => {
        throw new Error(`Chromium is not installed at ${CHROMIUM} (apt-get install -y chromium)`);
      });
    });
    return;
  }
  // One line, not a console.warn with its stack: the reason the browser tests did not run.
  process.stderr.write(
    `Skipping "${name}": no Chromium at ${CHROMIUM} (apt-get install -y chromium)\n`,
  );
  describe.skip(name, tests);
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
}
