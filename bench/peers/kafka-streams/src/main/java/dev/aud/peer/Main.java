package dev.aud.peer;

import java.time.Duration;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.apache.kafka.streams.state.Stores;
import org.slf4j.Logger;

/**
 * java -jar aud-streams-peer.jar --brokers HOST:PORT --input TOPIC --output TOPIC --app-id ID
 *      --state-dir DIR [--threads N] [--exactly-once] [--commit-interval-ms MS] [--cache-mb MB]
 *
 * Runs until SIGTERM; then closes Kafka Streams cleanly (final commit, stores
 * flushed) and exits 0, or 1 if the close timed out or the client failed.
 */
public final class Main {
  private Main() {}

  public static void main(String[] argv) throws Exception {
    System.setProperty("org.slf4j.simpleLogger.logFile", "System.err");
    System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", System.getProperty("aud.kafkaLogLevel", "warn"));
    System.setProperty("org.slf4j.simpleLogger.log.dev.aud.peer", "info");
    System.setProperty("org.slf4j.simpleLogger.showDateTime", "true");
    System.setProperty("org.slf4j.simpleLogger.dateTimeFormat", "HH:mm:ss.SSS");
    Logger log = org.slf4j.LoggerFactory.getLogger(Main.class);

    String brokers = null, input = null, output = null, appId = null, stateDir = null;
    int threads = 1;
    boolean exactlyOnce = false;
    Long commitIntervalMs = null;
    long cacheMb = 128;
    for (int i = 0; i < argv.length; i++) {
      String a = argv[i];
      switch (a) {
        case "--brokers": brokers = value(argv, ++i, a); break;
        case "--input": input = value(argv, ++i, a); break;
        case "--output": output = value(argv, ++i, a); break;
        case "--app-id": appId = value(argv, ++i, a); break;
        case "--state-dir": stateDir = value(argv, ++i, a); break;
        case "--threads": threads = Integer.parseInt(value(argv, ++i, a)); break;
        case "--exactly-once": exactlyOnce = true; break;
        case "--commit-interval-ms": commitIntervalMs = Long.parseLong(value(argv, ++i, a)); break;
        case "--cache-mb": cacheMb = Long.parseLong(value(argv, ++i, a)); break;
        case "-h": case "--help": usage(0); break;
        default: System.err.println("unknown option " + a); usage(2);
      }
    }
    if (brokers == null || input == null || output == null || appId == null || stateDir == null) usage(2);

    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, appId);
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
    p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, threads);
    p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, exactlyOnce ? StreamsConfig.EXACTLY_ONCE_V2 : StreamsConfig.AT_LEAST_ONCE);
    // Commit less often than the defaults (30 s ALOS, 100 ms EOS): each commit flushes
    // the caches to RocksDB and the changelogs, and under EOS ends a transaction.
    p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, commitIntervalMs != null ? commitIntervalMs : exactlyOnce ? 1000L : 10_000L);
    // The record cache in front of RocksDB: repeated writes of one customer between
    // commits reach RocksDB and the changelog once.
    p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, cacheMb * 1024 * 1024);
    // Producer (output and changelogs): bigger batches, a little linger, lz4.
    p.put(StreamsConfig.producerPrefix(ProducerConfig.LINGER_MS_CONFIG), 20);
    p.put(StreamsConfig.producerPrefix(ProducerConfig.BATCH_SIZE_CONFIG), 256 * 1024);
    p.put(StreamsConfig.producerPrefix(ProducerConfig.COMPRESSION_TYPE_CONFIG), "lz4");
    // Consumer: larger polls and fetches.
    p.put(StreamsConfig.consumerPrefix(ConsumerConfig.MAX_POLL_RECORDS_CONFIG), 2000);
    p.put(StreamsConfig.consumerPrefix(ConsumerConfig.FETCH_MIN_BYTES_CONFIG), 64 * 1024);
    p.put(StreamsConfig.consumerPrefix(ConsumerConfig.FETCH_MAX_WAIT_MS_CONFIG), 100);
    p.put(StreamsConfig.consumerPrefix(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG), "earliest");
    p.put(StreamsConfig.PROCESSING_EXCEPTION_HANDLER_GLOBAL_ENABLED_CONFIG, true); // the 5.0 default; silences a warning

    Topology topology = buildTopology(input, output);
    log.info("topology:\n{}", topology.describe());
    log.info("input {} → output {}, app id {}, {} thread(s), {}, commit every {} ms, cache {} MiB",
        input, output, appId, threads, exactlyOnce ? "exactly_once_v2" : "at_least_once",
        p.get(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG), cacheMb);

    KafkaStreams streams = new KafkaStreams(topology, p);
    AtomicBoolean failed = new AtomicBoolean(false);
    CountDownLatch error = new CountDownLatch(1);
    streams.setUncaughtExceptionHandler(e -> {
      log.error("stream thread failed", e);
      failed.set(true);
      return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
    });
    streams.setStateListener((to, from) -> {
      log.info("state {} → {}", from, to);
      if (to == KafkaStreams.State.ERROR) { failed.set(true); error.countDown(); }
    });
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      log.info("closing");
      boolean clean = streams.close(Duration.ofSeconds(60));
      int code = clean && !failed.get() ? 0 : 1;
      log.info("closed {}; exit {}", clean ? "cleanly" : "with a timeout", code);
      System.err.flush();
      Runtime.getRuntime().halt(code);
    }, "aud-shutdown"));
    streams.start();
    error.await();
    log.error("Kafka Streams is in state ERROR; exiting");
    System.exit(1); // runs the hook: close, exit 1
  }

  static Topology buildTopology(String input, String output) {
    Topology t = new Topology();
    t.addSource("events", new StringDeserializer(), new ByteArrayDeserializer(), input);
    t.addProcessor("audiences", AudProcessor::new, "events");
    t.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(AudProcessor.CUSTOMERS), Serdes.String(), Serdes.ByteArray())
        .withCachingEnabled(), "audiences");
    t.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(AudProcessor.TIMERS), Serdes.Bytes(), Serdes.ByteArray())
        .withCachingEnabled(), "audiences");
    t.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(AudProcessor.CLOCK), Serdes.String(), Serdes.Long())
        .withCachingEnabled(), "audiences");
    t.addSink("segments", output, new StringSerializer(), new StringSerializer(), "audiences");
    return t;
  }

  private static String value(String[] argv, int i, String option) {
    if (i >= argv.length) { System.err.println(option + " needs a value"); usage(2); }
    return argv[i];
  }

  private static void usage(int code) {
    System.err.println("usage: java -jar aud-streams-peer.jar --brokers HOST:PORT --input TOPIC --output TOPIC"
        + " --app-id ID --state-dir DIR [--threads N] [--exactly-once] [--commit-interval-ms MS] [--cache-mb MB]");
    System.exit(code);
  }
}
