// The read phases: the service against the minimal reader (minimal-reader.ts), the same statements
// on the same database, alternating. For each query: saturated at 16 connections, each target in
// turn, twice; then both paced at half the minimal reader's saturated throughput, in turn, twice.
// The targets (issue: reads near a minimal reader): throughput >= 0.8x the minimal reader's, and at
// the pace a p99 within 1.5x of the minimal reader's (aim: <= 10 ms).
import { type LoadResult } from './load-worker.js';

export interface ReadQuery {
  name: string;
  /** Request paths, used in turn (one path: a fixed request). */
  paths: string[];
}

export interface ReadTarget<S> {
  name: string;
  server: S;
}

export interface ReadPhases<S> {
  targets: [minimal: ReadTarget<S>, service: ReadTarget<S>];
  queries: ReadQuery[];
  rounds: number;
  /** Saturated load at 16 connections, after a warm-up. */
  saturated(server: S, paths: string[]): Promise<LoadResult>;
  /** Open-loop load at `rate` requests/s over up to 16 connections. */
  paced(server: S, paths: string[], rate: number): Promise<LoadResult>;
  log(message: string): void;
}

export interface ReadRow extends LoadResult {
  target: string;
  load: string;
}

/** Runs the phases; gives each measurement as a row, and the comparison lines. */
export async function compareReads<S>(
  phases: ReadPhases<S>,
): Promise<{ rows: ReadRow[]; summary: string[] }> {
  const rows: ReadRow[] = [];
  const summary: string[] = [];
  const [minimal, service] = phases.targets;
  for (const query of phases.queries) {
    const saturated = new Map<string, LoadResult[]>();
    for (let round = 1; round <= phases.rounds; round++) {
      for (const target of round % 2 === 1 ? [minimal, service] : [service, minimal]) {
        phases.log(`${query.name}: ${target.name}, saturated, round ${round}`);
        const result = await phases.saturated(target.server, query.paths);
        rows.push({ target: target.name, load: `${query.name}, saturated`, ...result });
        saturated.set(target.name, [...(saturated.get(target.name) ?? []), result]);
      }
    }
    const rate = Math.max(1, Math.round(mean(saturated.get(minimal.name), 'rps') / 2));
    const pacedResults = new Map<string, LoadResult[]>();
    for (let round = 1; round <= phases.rounds; round++) {
      for (const target of round % 2 === 1 ? [minimal, service] : [service, minimal]) {
        phases.log(`${query.name}: ${target.name}, paced ${rate} req/s, round ${round}`);
        const result = await phases.paced(target.server, query.paths, rate);
        rows.push({ target: target.name, load: `${query.name}, paced ${rate} req/s`, ...result });
        pacedResults.set(target.name, [...(pacedResults.get(target.name) ?? []), result]);
      }
    }
    const throughput =
      mean(saturated.get(service.name), 'rps') / mean(saturated.get(minimal.name), 'rps');
    const p99Service = mean(pacedResults.get(service.name), 'p99');
    const p99Minimal = mean(pacedResults.get(minimal.name), 'p99');
    summary.push(
      `${query.name}: throughput ${throughput.toFixed(2)}x the minimal reader's (target >= 0.8); ` +
        `p99 at ${rate} req/s ${p99Service.toFixed(1)} ms against ${p99Minimal.toFixed(1)} ms, ` +
        `${(p99Service / p99Minimal).toFixed(2)}x (target <= 1.5, aim <= 10 ms)`,
    );
  }
  return { rows, summary };
}

function mean(results: LoadResult[] | undefined, key: 'rps' | 'p99'): number {
  if (results === undefined || results.length === 0) {
    return NaN;
  }
  return results.reduce((sum, result) => sum + result[key], 0) / results.length;
}
