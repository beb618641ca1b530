// The sink and the receivers' signature check only: the Kafka consumer (kafka-to-webhook.ts) loads the Kafka client.
export {
  IDEMPOTENCY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookSink, WebhookSinkError, signatureFor, verifySignature,
  type SendResult, type WebhookSinkOptions, type WebhookStats,
} from './webhook-sink.js';
