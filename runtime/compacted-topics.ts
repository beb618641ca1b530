/**
 * The configuration the engine creates its compacted topics with (the
 * changelog, the membership topic). Compaction never touches a topic's
 * active segment, which by Kafka's default rolls only every 7 days; an
 * erased customer's records (customer-lifecycle.md, section 3) would stay
 * readable that long. A segment of at most a day lets the cleaner remove
 * them, and their tombstones delete.retention.ms later (a day by default):
 * an erasure is gone from these topics within about two days
 * (docs/operations.md, "Erasure"). Topics that exist already keep theirs.
 */
export const COMPACTED_TOPIC_CONFIG: Readonly<Record<string, string>> = {
  'cleanup.policy': 'compact',
  'segment.ms': String(24 * 3_600_000),
};
