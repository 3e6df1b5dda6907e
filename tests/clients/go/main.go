// kafka-mtls-go-client: an unmodified confluent-kafka-go client for the
// kafka-mtls tests. Every property of a Java-style properties file (and of
// each -X key=value, applied after the file in order) goes into
// kafka.ConfigMap as a string, unchanged; the program knows nothing about
// kafka-mtls. (confluent-kafka-go itself sets plugin.library.paths first and
// the other properties in map order.)
//
//	kafka-mtls-go-client [-X key=value]... -produce N -topic T [-prefix P] PROPERTIES
//	kafka-mtls-go-client [-X key=value]... -consume N -topic T [-group G] PROPERTIES
//	kafka-mtls-go-client -version
//
// -produce N sends the values P1..PN (P defaults to "message-") and prints
// each value once its delivery is confirmed, one per line. -consume N
// subscribes to T (group.id = G when given; auto.offset.reset=earliest unless
// the properties set it) and prints the values of the first N messages, one
// per line. -timeout (default 30s) bounds the whole run. -version prints the
// confluent-kafka-go version, the librdkafka version and how it is linked.
//
// Exit codes: 0 ok; 1 an error while producing or consuming (any error event,
// a failed delivery, the timeout); 2 usage or an unreadable properties file;
// 3 the client could not be created: stderr then holds err.Error() verbatim,
// alone on its line. On an error the program exits at once, without closing
// the client (closing may wait for brokers that refused it).
package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/confluentinc/confluent-kafka-go/v2/kafka"
)

const ckgPath = "github.com/confluentinc/confluent-kafka-go/v2"

type kvList []string

func (l *kvList) String() string     { return strings.Join(*l, ",") }
func (l *kvList) Set(s string) error { *l = append(*l, s); return nil }

// parseProperties reads a java.util.Properties text: # and ! comment lines,
// key/value separated by the first unescaped '=', ':' or whitespace, a line
// ending in an odd number of backslashes continues on the next line, and the
// escapes \t \n \r \f \uXXXX (any other \c is c). Values are not trimmed at
// the end, as in Java.
func parseProperties(text string) ([][2]string, error) {
	var out [][2]string
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		line := strings.TrimLeft(lines[i], " \t\f")
		if line == "" || line[0] == '#' || line[0] == '!' {
			continue
		}
		for endsInBackslash(line) && i+1 < len(lines) {
			i++
			line = line[:len(line)-1] + strings.TrimLeft(lines[i], " \t\f")
		}
		if endsInBackslash(line) {
			line = line[:len(line)-1]
		}
		k, v, err := splitKV(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %v", i+1, err)
		}
		out = append(out, [2]string{k, v})
	}
	return out, nil
}

func endsInBackslash(s string) bool {
	n := 0
	for j := len(s) - 1; j >= 0 && s[j] == '\\'; j-- {
		n++
	}
	return n%2 == 1
}

func splitKV(line string) (string, string, error) {
	end := len(line)
	for j := 0; j < len(line); j++ {
		if line[j] == '\\' {
			j++
			continue
		}
		if strings.IndexByte("=: \t\f", line[j]) >= 0 {
			end = j
			break
		}
	}
	rest := strings.TrimLeft(line[end:], " \t\f")
	if rest != "" && (rest[0] == '=' || rest[0] == ':') {
		rest = strings.TrimLeft(rest[1:], " \t\f")
	}
	k, err := unescape(line[:end])
	if err != nil {
		return "", "", err
	}
	v, err := unescape(rest)
	return k, v, err
}

func unescape(s string) (string, error) {
	if !strings.Contains(s, `\`) {
		return s, nil
	}
	var b strings.Builder
	for j := 0; j < len(s); j++ {
		c := s[j]
		if c != '\\' || j+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		j++
		switch s[j] {
		case 't':
			b.WriteByte('\t')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 'f':
			b.WriteByte('\f')
		case 'u':
			if j+5 > len(s) {
				return "", errors.New(`malformed \uXXXX escape`)
			}
			r, err := strconv.ParseUint(s[j+1:j+5], 16, 16)
			if err != nil {
				return "", errors.New(`malformed \uXXXX escape`)
			}
			b.WriteRune(rune(r))
			j += 4
		default:
			b.WriteByte(s[j])
		}
	}
	return b.String(), nil
}

func ckgVersion() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, d := range bi.Deps {
			if d.Path == ckgPath {
				if d.Replace != nil {
					return d.Replace.Version
				}
				return d.Version
			}
		}
	}
	return "unknown"
}

type exitError struct {
	code int
	msg  string
}

func fail(code int, format string, a ...any) *exitError {
	return &exitError{code, fmt.Sprintf(format, a...)}
}

func main() {
	if e := run(); e != nil {
		fmt.Fprintln(os.Stderr, e.msg)
		os.Exit(e.code)
	}
}

func run() *exitError {
	var props kvList
	fs := flag.NewFlagSet("kafka-mtls-go-client", flag.ContinueOnError)
	fs.Var(&props, "X", "`key=value`: a property applied after the file (repeatable)")
	produce := fs.Int("produce", 0, "produce `N` messages")
	consume := fs.Int("consume", 0, "consume `N` messages")
	topic := fs.String("topic", "", "the `topic`")
	group := fs.String("group", "", "the consumer group.id")
	prefix := fs.String("prefix", "message-", "produced values are PREFIX1..PREFIXN")
	timeout := fs.Duration("timeout", 30*time.Second, "bound on the whole run")
	version := fs.Bool("version", false, "print versions and exit")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: kafka-mtls-go-client [-X key=value]... (-produce N | -consume N) -topic T [-group G] [-prefix P] [-timeout D] PROPERTIES\n       kafka-mtls-go-client -version")
		fs.PrintDefaults()
	}
	if err := fs.Parse(os.Args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return &exitError{2, ""}
	}
	if *version {
		v, s := kafka.LibraryVersion()
		fmt.Printf("confluent-kafka-go %s\nlibrdkafka %s (0x%x)\nlink %s\n", ckgVersion(), s, v, kafka.LibrdkafkaLinkInfo)
		return nil
	}
	if (*produce > 0) == (*consume > 0) || *produce < 0 || *consume < 0 || *topic == "" || fs.NArg() != 1 || *timeout <= 0 {
		fs.Usage()
		return &exitError{2, "kafka-mtls-go-client: need exactly one of -produce N / -consume N (N > 0), -topic and one PROPERTIES file"}
	}
	text, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		return fail(2, "kafka-mtls-go-client: %v", err)
	}
	kvs, err := parseProperties(string(text))
	if err != nil {
		return fail(2, "kafka-mtls-go-client: %s: %v", fs.Arg(0), err)
	}
	for _, p := range props {
		k, v, ok := strings.Cut(p, "=")
		if !ok {
			return fail(2, "kafka-mtls-go-client: -X %q: expected key=value", p)
		}
		kvs = append(kvs, [2]string{k, v})
	}
	cm := kafka.ConfigMap{}
	for _, kv := range kvs {
		cm[kv[0]] = kv[1]
	}
	deadline := time.After(*timeout)
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	if *produce > 0 {
		return runProducer(cm, *topic, *prefix, *produce, deadline, *timeout, out)
	}
	if *group != "" {
		cm["group.id"] = *group
	}
	if _, ok := cm["auto.offset.reset"]; !ok {
		cm["auto.offset.reset"] = "earliest"
	}
	return runConsumer(cm, *topic, *consume, deadline, *timeout, out)
}

func runProducer(cm kafka.ConfigMap, topic, prefix string, n int, deadline <-chan time.Time, timeout time.Duration, out *bufio.Writer) *exitError {
	p, err := kafka.NewProducer(&cm)
	if err != nil {
		return &exitError{3, err.Error()}
	}
	dr := make(chan kafka.Event, n)
	for i := 1; i <= n; i++ {
		m := &kafka.Message{
			TopicPartition: kafka.TopicPartition{Topic: &topic, Partition: kafka.PartitionAny},
			Value:          []byte(prefix + strconv.Itoa(i)),
		}
		if err := p.Produce(m, dr); err != nil {
			return fail(1, "produce: %v", err)
		}
	}
	for done := 0; done < n; {
		select {
		case ev := <-dr:
			m, ok := ev.(*kafka.Message)
			if !ok {
				continue
			}
			if m.TopicPartition.Error != nil {
				return fail(1, "delivery: %v", m.TopicPartition.Error)
			}
			fmt.Fprintln(out, string(m.Value))
			done++
		case ev := <-p.Events():
			if e, ok := ev.(kafka.Error); ok {
				return fail(1, "%v", e)
			}
		case <-deadline:
			return fail(1, "timed out after %v: %d of %d messages delivered", timeout, done, n)
		}
	}
	out.Flush()
	p.Close()
	return nil
}

func runConsumer(cm kafka.ConfigMap, topic string, n int, deadline <-chan time.Time, timeout time.Duration, out *bufio.Writer) *exitError {
	c, err := kafka.NewConsumer(&cm)
	if err != nil {
		return &exitError{3, err.Error()}
	}
	if err := c.Subscribe(topic, nil); err != nil {
		return fail(1, "subscribe: %v", err)
	}
	for got := 0; got < n; {
		select {
		case <-deadline:
			return fail(1, "timed out after %v: %d of %d messages consumed", timeout, got, n)
		default:
		}
		switch e := c.Poll(100).(type) {
		case *kafka.Message:
			if e.TopicPartition.Error != nil {
				return fail(1, "consume: %v", e.TopicPartition.Error)
			}
			fmt.Fprintln(out, string(e.Value))
			got++
		case kafka.Error:
			return fail(1, "%v", e)
		}
	}
	out.Flush()
	if err := c.Close(); err != nil {
		return fail(1, "close: %v", err)
	}
	return nil
}
