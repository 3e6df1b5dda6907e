// SeedClient: a plain Java Kafka client (kafka-clients from Maven Central),
// configured only by a Java properties file, as the seed's clients are.
//
//   java -cp KAFKA_LIBS/* SeedClient PROPS produce TOPIC COUNT PREFIX
//       sends PREFIX-0 .. PREFIX-(COUNT-1), waits for every ack, prints "sent N"
//   java -cp KAFKA_LIBS/* SeedClient PROPS consume TOPIC COUNT
//       subscribes (group.id from PROPS), prints each value on its own line
//       until COUNT have arrived (or 60 s pass: exit 1), commits, exits 0
//
// Any error (TLS, authorization) is printed as "ERROR <class>: <message>"
// and exits 1.
import java.io.FileInputStream;
import java.time.Duration;
import java.util.Collections;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

public final class SeedClient {
    public static void main(String[] args) {
        try {
            if (args.length < 4)
                throw new IllegalArgumentException("usage: SeedClient PROPS produce|consume TOPIC COUNT [PREFIX]");
            Properties p = new Properties();
            try (FileInputStream in = new FileInputStream(args[0])) {
                p.load(in);
            }
            p.remove("plugin.library.paths"); // the librdkafka line; Java would only warn about it
            int count = Integer.parseInt(args[3]);
            if (args[1].equals("produce"))
                produce(p, args[2], count, args.length > 4 ? args[4] : "java");
            else if (args[1].equals("consume"))
                consume(p, args[2], count);
            else
                throw new IllegalArgumentException("unknown command " + args[1]);
            System.exit(0);
        } catch (Throwable t) {
            Throwable root = t;
            while (root.getCause() != null && root.getCause() != root)
                root = root.getCause();
            System.out.println("ERROR " + t.getClass().getSimpleName() + ": " + t.getMessage()
                    + (root != t ? " (cause " + root.getClass().getSimpleName() + ": " + root.getMessage() + ")" : ""));
            System.exit(1);
        }
    }

    private static void produce(Properties p, String topic, int count, String prefix) throws Exception {
        p.put("key.serializer", StringSerializer.class.getName());
        p.put("value.serializer", StringSerializer.class.getName());
        p.putIfAbsent("acks", "all");
        p.putIfAbsent("max.block.ms", "30000");
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(p)) {
            for (int i = 0; i < count; i++)
                producer.send(new ProducerRecord<>(topic, prefix + "-" + i)).get();
        }
        System.out.println("sent " + count);
    }

    private static void consume(Properties p, String topic, int count) {
        p.put("key.deserializer", StringDeserializer.class.getName());
        p.put("value.deserializer", StringDeserializer.class.getName());
        p.putIfAbsent("auto.offset.reset", "earliest");
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        int got = 0;
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(p)) {
            consumer.subscribe(Collections.singletonList(topic));
            while (got < count) {
                if (System.nanoTime() > deadline)
                    throw new IllegalStateException("only " + got + " of " + count + " messages within 60 s");
                for (ConsumerRecord<String, String> r : consumer.poll(Duration.ofMillis(500))) {
                    System.out.println(r.value());
                    got++;
                }
            }
            consumer.commitSync();
        }
    }
}
