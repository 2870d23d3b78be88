// One query phase's saturated load (warm-up, then the measurement), run by bench.ts in a process
// of its own: a fresh heap per phase. In the bench's own process, the load generator's full
// garbage collections grew phase after phase (up to 34 per 10 s), stalled its event loop and
// showed up as the service's latency in the later phases (bench/RESULTS.md). A process rather
// than a worker thread: autocannon leaves its results unaggregated in a worker thread.
import autocannon from 'autocannon';

export interface PhaseLoad {
  url: string;
  connections: number;
  warmup: number;
  duration: number;
  /** Request paths, used in turn. */
  paths: string[];
}

async function run(
  { url, connections, paths }: PhaseLoad,
  duration: number,
  start: number,
): ReturnType<typeof autocannon> {
  let next = start;
  return autocannon({
    url,
    connections,
    duration,
    pipelining: 1,
    timeout: 20,
    requests: [
      { method: 'GET', setupRequest: (r) => ({ ...r, path: paths[next++ % paths.length] }) },
    ],
  });
}

process.once('message', (phase: PhaseLoad) => {
  void (async () => {
    await run(phase, phase.warmup, 0);
    const result = await run(phase, phase.duration, Math.floor(phase.paths.length / 2));
    process.send?.({
      rps: result.requests.average,
      p50: result.latency.p50,
      p99: result.latency.p99,
      non2xx: result.non2xx,
      errors: result.errors + result.timeouts,
    });
    process.disconnect?.();
  })();
});
