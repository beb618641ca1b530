/**
 * The V8 young generation of a rule worker thread, MB (`aud run
 * --young-generation-mb`): a choice between throughput and pause length.
 * Its own file so that the CLI can name the default without loading the
 * worker pool.
 *
 * Large by default: most of what a batch allocates dies with it, and fewer
 * scavenges promote less of it. The price is the pause: a scavenge copies
 * what survives, and a larger young generation makes each pause longer,
 * which shows in the p99 (docs/operations.md, "Latency"; the measurements
 * are in docs/decisions/2026-12-03-tuning-figures.md).
 */
export const DEFAULT_YOUNG_GENERATION_MB = 192;

/** Below this V8 scavenges so often that the thread does little else. */
export const MIN_YOUNG_GENERATION_MB = 8;
