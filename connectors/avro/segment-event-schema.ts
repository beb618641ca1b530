/**
 * The output schema, the same as connectors/avro/segment-event.avsc (the file
 * to give to consumers; a test keeps the two equal). Kept in code so that the
 * compiled engine does not need to find the .avsc next to dist/.
 */
export const SEGMENT_EVENT_SCHEMA = {
  "type": "record",
  "name": "SegmentEvent",
  "namespace": "aud",
  "doc": "One audience membership change: a customer entered or left an audience. Keyed by customer id. For one customer and audience, versions count up from 1 and enters and leaves alternate, starting with an enter.",
  "fields": [
    {
      "name": "type",
      "type": {
        "type": "enum",
        "name": "ChangeType",
        "symbols": [
          "enter",
          "leave"
        ]
      }
    },
    {
      "name": "audience",
      "type": "string"
    },
    {
      "name": "customer",
      "type": "string"
    },
    {
      "name": "at",
      "type": "string",
      "doc": "The engine's time of the change, ISO-8601 UTC with milliseconds."
    },
    {
      "name": "version",
      "type": "int",
      "doc": "Changes so far for this customer and audience; 1 is the first enter."
    },
    {
      "name": "reason",
      "type": {
        "type": "enum",
        "name": "ChangeReason",
        "symbols": [
          "event",
          "timer",
          "rule_change",
          "merge",
          "erasure"
        ],
        "default": "event"
      }
    },
    {
      "name": "cause",
      "doc": "The input record that caused the change: topic, partition and offset for a Kafka record, line for a line of a replayed file; null for timer changes.",
      "type": [
        "null",
        {
          "type": "record",
          "name": "Cause",
          "fields": [
            {
              "name": "topic",
              "type": [
                "null",
                "string"
              ],
              "default": null
            },
            {
              "name": "partition",
              "type": [
                "null",
                "int"
              ],
              "default": null
            },
            {
              "name": "offset",
              "type": [
                "null",
                "string"
              ],
              "default": null
            },
            {
              "name": "line",
              "type": [
                "null",
                "long"
              ],
              "default": null
            }
          ]
        }
      ],
      "default": null
    }
  ]
} as const;
