package dev.aud.peer;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Processor API node: one instance per task (= input partition), with the
 * task's three persistent (RocksDB, changelogged, cached) stores:
 *
 *   aud-customers  customer id → CustomerState (binary)
 *   aud-timers     8-byte big-endian due time + customer id (UTF-8) → [], ordered by due time
 *   aud-clock      "now" → the partition's event clock
 *
 * The timer store is the durable index; Engine mirrors it in an ordered set,
 * rebuilt here from a scan when the task (re)starts after restoration.
 */
final class AudProcessor implements Processor<String, byte[], String, String> {
  static final String CUSTOMERS = "aud-customers";
  static final String TIMERS = "aud-timers";
  static final String CLOCK = "aud-clock";
  private static final String CLOCK_KEY = "now";
  private static final byte[] EMPTY = new byte[1];

  private static final Logger log = LoggerFactory.getLogger(AudProcessor.class);

  private ProcessorContext<String, String> context;
  private KeyValueStore<String, byte[]> customers;
  private KeyValueStore<Bytes, byte[]> timerStore;
  private KeyValueStore<String, Long> clockStore;
  private Engine engine;
  private final EventDecoder decoder = new EventDecoder();
  private final CustomerState.Writer writer = new CustomerState.Writer();
  private long bad, skipped;
  private long inputTimestamp;
  private long lastLogAt, lastLogCount;

  @Override
  public void init(ProcessorContext<String, String> context) {
    this.context = context;
    customers = context.getStateStore(CUSTOMERS);
    timerStore = context.getStateStore(TIMERS);
    clockStore = context.getStateStore(CLOCK);
    engine = new Engine(new Engine.Store() {
      @Override public CustomerState load(String customer) {
        byte[] bytes = customers.get(customer);
        return bytes == null ? new CustomerState() : CustomerState.decode(bytes);
      }
      @Override public void save(String customer, CustomerState cs) { customers.put(customer, cs.encode(writer)); }
      @Override public void putTimer(long due, String customer) { timerStore.put(timerKey(due, customer), EMPTY); }
      @Override public void deleteTimer(long due, String customer) { timerStore.delete(timerKey(due, customer)); }
      @Override public void saveClock(long now) { clockStore.put(CLOCK_KEY, now); }
    });
    Long now = clockStore.get(CLOCK_KEY);
    if (now != null) engine.restoreClock(now);
    try (KeyValueIterator<Bytes, byte[]> it = timerStore.all()) {
      while (it.hasNext()) {
        KeyValue<Bytes, byte[]> kv = it.next();
        ByteBuffer b = ByteBuffer.wrap(kv.key.get());
        long due = b.getLong() ^ Long.MIN_VALUE;
        String customer = new String(kv.key.get(), 8, kv.key.get().length - 8, StandardCharsets.UTF_8);
        engine.restoreTimer(due, customer);
      }
    }
    log.info("task {} open: clock {}, {} pending timers", context.taskId(), now, engine.pendingTimers());
    // Wall-clock punctuation only logs progress: the rules run on the event clock alone.
    lastLogAt = System.nanoTime();
    context.schedule(Duration.ofSeconds(10), PunctuationType.WALL_CLOCK_TIME, t -> { if (engine.applied + bad + skipped != lastLogCount) logProgress(); });
  }

  @Override
  public void process(Record<String, byte[]> record) {
    Event e = decoder.decode(record.value(), record.timestamp());
    if (e == null) {
      if (decoder.last == EventDecoder.Outcome.SKIPPED) skipped++; else bad++;
      return;
    }
    inputTimestamp = record.timestamp();
    engine.onEvent(e, this::emit);
  }

  private void emit(String customer, String json) {
    context.forward(new Record<>(customer, json, inputTimestamp));
  }

  private void logProgress() {
    long t = System.nanoTime();
    long count = engine.applied + bad + skipped;
    double rate = (count - lastLogCount) / ((t - lastLogAt) / 1e9);
    lastLogAt = t;
    lastLogCount = count;
    log.info("task {}: applied {}, skipped {}, bad {}, outputs {}, timers fired {}, pending timers {}; {} records/s",
        context.taskId(), engine.applied, skipped, bad, engine.outputs, engine.timersFired, engine.pendingTimers(), Math.round(rate));
  }

  @Override
  public void close() {
    if (engine != null) logProgress();
  }

  /** The due time big-endian with the sign bit flipped (so byte order is time order), then the customer id. */
  static Bytes timerKey(long due, String customer) {
    byte[] c = customer.getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(8 + c.length);
    b.putLong(due ^ Long.MIN_VALUE);
    b.put(c);
    return Bytes.wrap(b.array());
  }
}
