// A topic's configuration as the broker reports it, one `name=value` line per
// entry, read with Kafka's own admin client (the broker's lib/ has it): the
// JavaScript client aud uses has no DescribeConfigs. Run in source-file mode:
//   java -cp '.kafka/lib/*' test/support/TopicConfig.java BROKERS TOPIC
import java.util.List;
import java.util.Map;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.common.config.ConfigResource;

public class TopicConfig {
  public static void main(String[] args) throws Exception {
    ConfigResource topic = new ConfigResource(ConfigResource.Type.TOPIC, args[1]);
    try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]))) {
      Config config = admin.describeConfigs(List.of(topic)).all().get().get(topic);
      config.entries().forEach(e -> System.out.println(e.name() + "=" + e.value()));
    }
  }
}
