/**
 * The V8 young generation of a rule worker thread, MB (`aud run
 * --young-generation-mb`): a choice between throughput and pause length.
 * Its own file so that the CLI can name the default without loading the
 * worker pool.
 *
 * Large by default: most of what a batch allocates dies with it, and fewer
 * scavenges promote less of it (about 8% less CPU in replay; 2–10% more
 * events/s on the benchmark backlog than 32 MB). The price is the pause: a
 * scavenge copies what survives, and with 192 MB the worker's took 5–11 ms
 * at 20k events/s against about 2 ms with 32 MB, which shows in the p99
 * (docs/operations.md, "Latency").
 */
export const DEFAULT_YOUNG_GENERATION_MB = 192;

/** Below this V8 scavenges so often that the thread does little else. */
export const MIN_YOUNG_GENERATION_MB = 8;
