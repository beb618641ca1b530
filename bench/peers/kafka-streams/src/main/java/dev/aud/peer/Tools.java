package dev.aud.peer;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * Helpers for check.sh and the benchmark, with the Kafka client in this jar:
 *
 *   java -cp aud-streams-peer.jar dev.aud.peer.Tools create-topic BROKERS TOPIC PARTITIONS
 *   java -cp aud-streams-peer.jar dev.aud.peer.Tools produce BROKERS TOPIC FILE.jsonl
 *       one record per non-empty line, key = its "customer_id" (none if absent)
 *   java -cp aud-streams-peer.jar dev.aud.peer.Tools end-offsets BROKERS TOPIC
 *       prints the sum of the end offsets of the topic's partitions
 *   java -cp aud-streams-peer.jar dev.aud.peer.Tools lag BROKERS TOPIC GROUP
 *       prints how many records of TOPIC the consumer group GROUP has not committed yet
 *       (an application id is its group id); -1 while it has committed nothing
 *   java -cp aud-streams-peer.jar dev.aud.peer.Tools list-topics BROKERS PATTERN...
 *   java -cp aud-streams-peer.jar dev.aud.peer.Tools delete-topics BROKERS PATTERN...
 *       a pattern is a topic name, or a prefix followed by * ("app-id-*")
 *   java -cp aud-streams-peer.jar dev.aud.peer.Tools consume BROKERS TOPIC FILE.jsonl
 *       every committed record from the beginning to the current end, values one a line
 */
public final class Tools {
  private Tools() {}

  public static void main(String[] a) throws Exception {
    System.setProperty("org.slf4j.simpleLogger.defaultLogLevel", "error");
    if (a.length < 3) { System.err.println("usage: Tools create-topic|produce|end-offsets|consume BROKERS TOPIC ..."); System.exit(2); }
    switch (a[0]) {
      case "create-topic": createTopic(a[1], a[2], Integer.parseInt(a[3])); break;
      case "produce": produce(a[1], a[2], Path.of(a[3])); break;
      case "end-offsets": System.out.println(endOffsets(a[1], a[2])); break;
      case "list-topics": for (String t : topics(a[1], List.of(a).subList(2, a.length))) System.out.println(t); break;
      case "delete-topics": deleteTopics(a[1], List.of(a).subList(2, a.length)); break;
      case "lag": System.out.println(lag(a[1], a[2], a[3])); break;
      case "consume": consume(a[1], a[2], Path.of(a[3])); break;
      default: System.err.println("unknown command " + a[0]); System.exit(2);
    }
  }

  static void createTopic(String brokers, String topic, int partitions) throws Exception {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    try (Admin admin = Admin.create(p)) {
      admin.createTopics(List.of(new NewTopic(topic, partitions, (short) 1))).all().get();
    }
  }

  static List<String> topics(String brokers, List<String> patterns) throws Exception {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    try (Admin admin = Admin.create(p)) {
      List<String> out = new ArrayList<>();
      for (String t : admin.listTopics().names().get()) {
        for (String pattern : patterns) {
          boolean match = pattern.endsWith("*") ? t.startsWith(pattern.substring(0, pattern.length() - 1)) : t.equals(pattern);
          if (match) { out.add(t); break; }
        }
      }
      out.sort(null);
      return out;
    }
  }

  static void deleteTopics(String brokers, List<String> patterns) throws Exception {
    List<String> doomed = topics(brokers, patterns);
    if (doomed.isEmpty()) return;
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    try (Admin admin = Admin.create(p)) {
      admin.deleteTopics(doomed).all().get();
    }
    System.err.println("deleted " + doomed.size() + " topic(s)");
  }

  static void produce(String brokers, String topic, Path file) throws Exception {
    Properties p = new Properties();
    p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    p.put(ProducerConfig.LINGER_MS_CONFIG, 20);
    p.put(ProducerConfig.BATCH_SIZE_CONFIG, 256 * 1024);
    p.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4");
    p.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true); // keeps order across retries
    JsonFactory json = JsonFactory.builder().build();
    AtomicReference<Exception> failure = new AtomicReference<>();
    long n = 0;
    try (KafkaProducer<String, byte[]> producer = new KafkaProducer<>(p, new StringSerializer(), new ByteArraySerializer());
         BufferedReader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
      String line;
      while ((line = in.readLine()) != null) {
        if (line.isBlank()) continue;
        byte[] value = line.getBytes(StandardCharsets.UTF_8);
        producer.send(new ProducerRecord<>(topic, customerId(json, value), value), (md, e) -> { if (e != null) failure.set(e); });
        n++;
      }
      producer.flush();
    }
    if (failure.get() != null) throw failure.get();
    System.err.println("produced " + n + " records to " + topic);
  }

  private static String customerId(JsonFactory json, byte[] value) {
    try (JsonParser p = json.createParser(value)) {
      if (p.nextToken() != JsonToken.START_OBJECT) return null;
      while (p.nextToken() == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        JsonToken t = p.nextToken();
        if (name.equals("customer_id") && (t == JsonToken.VALUE_STRING || t.isNumeric())) {
          return t == JsonToken.VALUE_STRING ? p.getText() : EventDecoder.jsNumberToString(p.getDoubleValue());
        }
        p.skipChildren();
      }
    } catch (IOException e) {
      // not JSON: no key
    }
    return null;
  }

  private static Properties consumerProps(String brokers) {
    Properties p = new Properties();
    p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
    p.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
    p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
    return p;
  }

  private static List<TopicPartition> partitions(KafkaConsumer<?, ?> c, String topic) {
    List<TopicPartition> tps = new ArrayList<>();
    for (PartitionInfo pi : c.partitionsFor(topic, Duration.ofSeconds(30))) tps.add(new TopicPartition(topic, pi.partition()));
    return tps;
  }

  static long endOffsets(String brokers, String topic) {
    try (KafkaConsumer<String, String> c = new KafkaConsumer<>(consumerProps(brokers), new StringDeserializer(), new StringDeserializer())) {
      long sum = 0;
      for (long o : c.endOffsets(partitions(c, topic)).values()) sum += o;
      return sum;
    }
  }

  static long lag(String brokers, String topic, String group) throws Exception {
    Properties p = new Properties();
    p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, brokers);
    Map<TopicPartition, OffsetAndMetadata> committed;
    try (Admin admin = Admin.create(p)) {
      committed = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
    }
    try (KafkaConsumer<String, String> c = new KafkaConsumer<>(consumerProps(brokers), new StringDeserializer(), new StringDeserializer())) {
      long lag = 0;
      for (Map.Entry<TopicPartition, Long> e : c.endOffsets(partitions(c, topic)).entrySet()) {
        OffsetAndMetadata o = committed.get(e.getKey());
        if (o == null) return -1;
        lag += e.getValue() - o.offset();
      }
      return lag;
    }
  }

  static void consume(String brokers, String topic, Path file) throws IOException {
    try (KafkaConsumer<String, String> c = new KafkaConsumer<>(consumerProps(brokers), new StringDeserializer(), new StringDeserializer());
         Writer out = new BufferedWriter(new OutputStreamWriter(Files.newOutputStream(file), StandardCharsets.UTF_8))) {
      List<TopicPartition> tps = partitions(c, topic);
      c.assign(tps);
      c.seekToBeginning(tps);
      Map<TopicPartition, Long> end = new HashMap<>(c.endOffsets(tps));
      long n = 0;
      while (true) {
        boolean done = true;
        for (TopicPartition tp : tps) if (c.position(tp) < end.get(tp)) done = false;
        if (done) break;
        for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(500))) {
          out.write(r.value());
          out.write('\n');
          n++;
        }
      }
      System.err.println("consumed " + n + " records from " + topic);
    }
  }
}
