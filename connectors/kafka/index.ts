export { ensureTopics, partitionCount, endOffsets } from './admin.js';
export { KafkaConnectorError } from './errors.js';
export type { KafkaOptions } from './options.js';
export { KafkaSink, type SinkRecord } from './sink.js';
export { KafkaSource, type PartitionBatch, type SourceHandler, type TopicPartition } from './source.js';
