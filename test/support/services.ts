// What the suite needs from the machine (Chromium, the brokers) and the one rule for when it is
// missing: in CI (CI set, as .ci/run sets it) a failing test says what to install; elsewhere the
// block is skipped with one line saying why.

export const inCi =
  process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';

/**
 * describe(name, tests) when `missing` is undefined; otherwise a failure in CI, a skip elsewhere.
 * `missing` says what is absent and how to provide it.
 */
export function describeIfAvailable(
  name: string,
  needs: string,
  missing: string | undefined,
  tests: () => void,
): void {
  if (missing === undefined) {
    describe(name, tests);
    return;
  }
  if (inCi) {
    describe(name, () => {
      it(`needs ${needs} in CI`, () => {
        throw new Error(missing);
      });
    });
    return;
  }
  // One line, not a console.warn with its stack: the reason these tests did not run.
  process.stderr.write(`Skipping "${name}": ${missing}\n`);
  describe.skip(name, tests);
}
