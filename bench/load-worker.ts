// autocannon as the benchmark drives it: load() for the callback phases (in the bench's process)
// and, run as a forked process by bench.ts, one query phase's saturated load (warm-up, then the
// measurement) with a fresh heap per phase. In the bench's own process, the load generator's full
// garbage collections grew phase after phase (up to 34 per 10 s), stalled its event loop and
// showed up as the service's latency in the later query phases (bench/RESULTS.md). A process
// rather than a worker thread: autocannon leaves its results unaggregated in a worker thread.
import autocannon from 'autocannon';

export interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  /** Responses received in the measured time. */
  requests: number;
  /** CPU time (user + system) the load generator spent in the measured time, in ms. */
  loadCpuMs: number;
}

/**
 * Closed-loop load: `connections` connections, no pipelining, for `duration` seconds. A request
 * with a fixed path and no body is built once; one whose path or body changes is built for every
 * send (autocannon's setupRequest), which costs the load generator CPU that the server, on a
 * shared machine, then lacks (about 0.05 ms per request here).
 */
export async function load(
  url: string,
  connections: number,
  duration: number,
  request: { method: string; path: string | (() => string); body?: () => string },
): Promise<LoadResult> {
  const cpu = process.cpuUsage();
  const { method, path, body } = request;
  const result = await autocannon({
    url,
    connections,
    duration,
    pipelining: 1,
    timeout: 20,
    requests: [
      typeof path === 'string' && body === undefined
        ? { method, path }
        : {
            method,
            headers: { 'content-type': 'application/json' },
            setupRequest: (r) => ({
              ...r,
              path: typeof path === 'string' ? path : path(),
              body: body?.(),
            }),
          },
    ],
  });
  const used = process.cpuUsage(cpu);
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    requests: result.requests.total,
    loadCpuMs: (used.user + used.system) / 1000,
  };
}

export interface PhaseLoad {
  url: string;
  connections: number;
  warmup: number;
  duration: number;
  /** Request paths, used in turn. */
  paths: string[];
}

/** GET requests over `paths` in turn, from `start`; one path is a fixed request. */
function inTurn(paths: string[], start: number) {
  if (paths.length === 1) {
    return { method: 'GET', path: paths[0] };
  }
  let next = start;
  return { method: 'GET', path: () => paths[next++ % paths.length] };
}

// Forked by bench.ts (which has an IPC channel to it): one phase, then exit. 'measuring' tells
// bench.ts when the warm-up is over, so that it counts the other processes' CPU from then.
if (process.send !== undefined) {
  process.once('message', (phase: PhaseLoad) => {
    void (async () => {
      const { url, connections, paths } = phase;
      await load(url, connections, phase.warmup, inTurn(paths, 0));
      process.send?.('measuring');
      const result = await load(url, connections, phase.duration, inTurn(paths, paths.length >> 1));
      process.send?.(result);
      process.disconnect?.();
    })();
  });
}
