import { existsSync } from 'node:fs';
import { type Browser, chromium } from 'playwright-core';
import { describeIfAvailable } from './services.js';

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

/**
 * A describe block that needs Chromium: in CI without it, a failing test says what to install;
 * elsewhere the block is skipped with one line saying why.
 */
export function describeInBrowser(name: string, tests: () => void): void {
  describeIfAvailable(
    name,
    'Chromium',
    haveChromium ? undefined : `no Chromium at ${CHROMIUM} (apt-get install -y chromium)`,
    tests,
  );
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true });
}
