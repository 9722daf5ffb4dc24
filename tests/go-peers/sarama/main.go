// Smoke test of kafka-server-mini (or any Kafka) with IBM/sarama: the cluster admin
// creates, lists, describes and deletes topics and groups; an idempotent sync producer
// sends keyed records with headers with every codec; a consumer group reads half of them
// and commits, a second consumer group session resumes at the committed offsets. Prints
// one PASS/FAIL line per check and exits 1 when any failed.
//
// usage: sarama-smoke -bootstrap HOST:PORT[,HOST:PORT] [-n 40] [-codecs none,gzip,...] [-rf N] [-timeout 60s]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"krafty/go-peers/smokecheck"
)

const partitions = 3

var codecs = map[string]sarama.CompressionCodec{
	"none":   sarama.CompressionNone,
	"gzip":   sarama.CompressionGZIP,
	"snappy": sarama.CompressionSnappy,
	"lz4":    sarama.CompressionLZ4,
	"zstd":   sarama.CompressionZSTD,
}

type smoke struct {
	c      *smokecheck.Checker
	seeds  []string
	adm    sarama.ClusterAdmin
	n      int
	wait   time.Duration
	groups []string
}

func config() *sarama.Config {
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V4_0_0_0
	cfg.ClientID = "sarama-smoke"
	cfg.Metadata.Retry.Backoff = 200 * time.Millisecond
	return cfg
}

func main() {
	bootstrap := flag.String("bootstrap", "", "bootstrap servers, comma separated")
	n := flag.Int("n", 40, "messages per codec (even)")
	codecList := flag.String("codecs", "none,gzip,snappy,lz4,zstd", "codecs to produce with")
	rf := flag.Int("rf", 0, "replication factor of the test topics (0: min(3, brokers))")
	wait := flag.Duration("timeout", 60*time.Second, "how long each consume phase may take")
	flag.Parse()
	if *bootstrap == "" || *n < 2 {
		fmt.Fprintln(os.Stderr, "usage: sarama-smoke -bootstrap HOST:PORT [-n 40] [-codecs none,gzip]")
		os.Exit(2)
	}
	s := &smoke{
		c:     &smokecheck.Checker{Client: "sarama"},
		seeds: strings.Split(*bootstrap, ","),
		n:     *n &^ 1,
		wait:  *wait,
	}
	adm, err := sarama.NewClusterAdmin(s.seeds, config())
	if !s.c.NoErr("cluster admin", err) {
		s.c.Exit()
	}
	defer adm.Close()
	s.adm = adm

	brokers, controller, err := adm.DescribeCluster()
	s.c.Check("admin describe cluster", err == nil && len(brokers) > 0 && controller >= 0,
		"err %v, %d brokers, controller %d", err, len(brokers), controller)

	if *rf <= 0 {
		*rf = min(3, max(1, len(brokers)))
	}
	run := strconv.FormatInt(time.Now().UnixNano()%1_000_000_000, 36) + "-" + strconv.Itoa(os.Getpid())
	names := strings.Split(*codecList, ",")
	var topics []string
	for _, codec := range names {
		if _, ok := codecs[codec]; !ok {
			fmt.Fprintf(os.Stderr, "unknown codec %q\n", codec)
			os.Exit(2)
		}
		topics = append(topics, "sarama-"+codec+"-"+run)
	}
	s.adminTopics(topics, int16(*rf))
	for i, codec := range names {
		s.codecRun(codec, topics[i])
	}
	s.adminOffsetsAndChanges(topics[0])
	s.adminGroupsAndCleanup(topics)
	s.c.Exit()
}

func (s *smoke) adminTopics(topics []string, rf int16) {
	var errs []string
	for _, t := range topics {
		if err := s.adm.CreateTopic(t, &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: rf}, false); err != nil {
			errs = append(errs, t+": "+err.Error())
		}
	}
	if !s.c.Check("admin create topics", len(errs) == 0, "%v", errs) {
		s.c.Exit()
	}
	err := s.adm.CreateTopic(topics[0], &sarama.TopicDetail{NumPartitions: partitions, ReplicationFactor: rf}, false)
	var te *sarama.TopicError
	s.c.Check("admin create existing topic is TOPIC_ALREADY_EXISTS",
		errors.As(err, &te) && te.Err == sarama.ErrTopicAlreadyExists, "got %v", err)
	var listed map[string]sarama.TopicDetail
	for range 50 { // metadata may trail CreateTopics on a multi-node cluster
		listed, err = s.adm.ListTopics()
		if err == nil && allListed(listed, topics) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.c.Check("admin list topics", err == nil && allListed(listed, topics), "err %v", err)
	md, err := s.adm.DescribeTopics(topics)
	var bad []string
	for _, m := range md {
		if !errors.Is(m.Err, sarama.ErrNoError) || len(m.Partitions) != partitions {
			bad = append(bad, fmt.Sprintf("%s: %v with %d partitions", m.Name, m.Err, len(m.Partitions)))
		}
	}
	s.c.Check("admin describe topics", err == nil && len(md) == len(topics) && len(bad) == 0, "err %v, %v", err, bad)
	// any broker answers; on a multi-node cluster one may not know the new topic yet
	policy := ""
	for range 50 {
		var entries []sarama.ConfigEntry
		entries, err = s.adm.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topics[0]})
		for _, e := range entries {
			if e.Name == "cleanup.policy" {
				policy = e.Value
			}
		}
		if policy != "" {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.c.Check("admin describe topic config", err == nil && policy == "delete", "err %v, cleanup.policy %q", err, policy)
}

func allListed(listed map[string]sarama.TopicDetail, topics []string) bool {
	for _, t := range topics {
		if d, ok := listed[t]; !ok || d.NumPartitions != partitions {
			return false
		}
	}
	return true
}

func (s *smoke) codecRun(codec, topic string) {
	label := "sarama-" + codec
	group := "sarama-group-" + topic
	s.groups = append(s.groups, group)
	r := &smokecheck.Run{Label: label, N: s.n, Partitions: partitions, Produced: map[int]smokecheck.Rec{}}
	cfg := config()
	cfg.Producer.Return.Successes = true
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Idempotent = true
	cfg.Net.MaxOpenRequests = 1
	cfg.Producer.Compression = codecs[codec]
	prod, err := sarama.NewSyncProducer(s.seeds, cfg)
	if !s.c.NoErr(label+" idempotent producer", err) {
		return
	}
	defer prod.Close()
	s.produce(prod, topic, r, 0, s.n/2)

	r.Phase1 = s.consume(label+" consumer 1", group, topic, s.n/2, func() {
		s.describeActiveGroup(label, group, topic)
	})
	r.Committed = s.committed(label+" committed offsets after consumer 1", group, topic)
	s.produce(prod, topic, r, s.n/2, s.n)
	r.Phase2 = s.consume(label+" consumer 2", group, topic, s.n-len(r.Phase1), nil)
	s.c.Verify(r)
}

func (s *smoke) produce(prod sarama.SyncProducer, topic string, r *smokecheck.Run, from, to int) {
	var msgs []*sarama.ProducerMessage
	for seq := from; seq < to; seq++ {
		msgs = append(msgs, &sarama.ProducerMessage{
			Topic:    topic,
			Key:      sarama.StringEncoder(smokecheck.Key(seq)),
			Value:    sarama.StringEncoder(smokecheck.Value(r.Label, seq)),
			Headers:  []sarama.RecordHeader{{Key: []byte(smokecheck.HeaderName), Value: []byte(strconv.Itoa(seq))}},
			Metadata: seq,
		})
	}
	err := prod.SendMessages(msgs)
	for _, m := range msgs {
		if m.Offset >= 0 && err == nil {
			r.Produced[m.Metadata.(int)] = smokecheck.Rec{Partition: m.Partition, Offset: m.Offset}
		}
	}
	s.c.NoErr(fmt.Sprintf("%s produce %d..%d", r.Label, from, to-1), err)
}

// handler collects records, marks each one, and commits synchronously in Cleanup, after
// every ConsumeClaim goroutine returned.
type handler struct {
	mu   sync.Mutex
	got  []smokecheck.Rec
	want int
	done func()
}

func (h *handler) Setup(sarama.ConsumerGroupSession) error { return nil }

func (h *handler) Cleanup(sess sarama.ConsumerGroupSession) error {
	sess.Commit()
	return nil
}

func (h *handler) ConsumeClaim(sess sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for {
		select {
		case <-sess.Context().Done():
			return nil
		case m, ok := <-claim.Messages():
			if !ok {
				return nil
			}
			rec := smokecheck.Rec{Partition: m.Partition, Offset: m.Offset, Key: string(m.Key), Value: string(m.Value)}
			for _, hd := range m.Headers {
				if string(hd.Key) == smokecheck.HeaderName {
					rec.Header, rec.HasHeader = string(hd.Value), true
				}
			}
			h.mu.Lock()
			h.got = append(h.got, rec)
			sess.MarkMessage(m, "")
			if len(h.got) >= h.want {
				h.done()
			}
			h.mu.Unlock()
		}
	}
}

func (s *smoke) consume(name, group, topic string, want int, whileUp func()) []smokecheck.Rec {
	cfg := config()
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Offsets.AutoCommit.Enable = false
	cfg.Consumer.MaxWaitTime = 500 * time.Millisecond
	cfg.Consumer.Return.Errors = true
	cg, err := sarama.NewConsumerGroup(s.seeds, group, cfg)
	if !s.c.NoErr(name, err) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.wait)
	defer cancel()
	reached, stop := context.WithCancel(ctx)
	h := &handler{want: want, done: stop}
	var errs []string
	errsDone := make(chan struct{})
	go func() { // Errors() is closed by Close()
		defer close(errsDone)
		for e := range cg.Errors() {
			if len(errs) < 5 {
				errs = append(errs, e.Error())
			}
		}
	}()
	consumeErr := make(chan error, 1)
	go func() { consumeErr <- cg.Consume(reached, []string{topic}, h) }()
	<-reached.Done()
	// Consume returns after Cleanup (and its commit) ran
	err = <-consumeErr
	if whileUp != nil && ctx.Err() == nil {
		whileUp()
	}
	s.c.NoErr(name+" consume session", err)
	s.c.NoErr(name+" close (leave group)", cg.Close())
	<-errsDone
	h.mu.Lock()
	defer h.mu.Unlock()
	s.c.Check(name+" without errors", len(errs) == 0, "%v", errs)
	s.c.Check(name+" received its records", len(h.got) >= want, "%d of %d within %v", len(h.got), want, s.wait)
	return h.got
}

func (s *smoke) describeActiveGroup(label, group, topic string) {
	ds, err := s.adm.DescribeConsumerGroups([]string{group})
	ok := err == nil && len(ds) == 1
	detail := fmt.Sprintf("err %v", err)
	if ok {
		d := ds[0]
		var parts []int32
		for _, m := range d.Members {
			if a, aerr := m.GetMemberAssignment(); aerr == nil && a != nil {
				parts = append(parts, a.Topics[topic]...)
			}
		}
		slices.Sort(parts)
		ok = errors.Is(d.Err, sarama.ErrNoError) && d.ProtocolType == "consumer" && len(d.Members) == 1 &&
			slices.Equal(parts, []int32{0, 1, 2})
		detail = fmt.Sprintf("err %v state %q members %d protocol type %q assigned %v", d.Err, d.State, len(d.Members), d.ProtocolType, parts)
	}
	s.c.Check(label+" admin describe group with its member", ok, "%s", detail)
}

func (s *smoke) committed(name, group, topic string) map[int32]int64 {
	out := map[int32]int64{}
	resp, err := s.adm.ListConsumerGroupOffsets(group, map[string][]int32{topic: {0, 1, 2}})
	if err == nil && !errors.Is(resp.Err, sarama.ErrNoError) {
		err = resp.Err
	}
	if s.c.NoErr("admin "+name, err) {
		for p := int32(0); p < partitions; p++ {
			if b := resp.GetBlock(topic, p); b != nil && errors.Is(b.Err, sarama.ErrNoError) && b.Offset >= 0 {
				out[p] = b.Offset
			}
		}
	}
	return out
}

// adminOffsetsAndChanges, on a topic holding n records: oldest/newest offsets, delete
// records, an incremental config change, an added partition.
func (s *smoke) adminOffsetsAndChanges(topic string) {
	cl, err := sarama.NewClient(s.seeds, config())
	if !s.c.NoErr("client for offsets", err) {
		return
	}
	defer cl.Close()
	var total int64
	victim, victimEnd := int32(-1), int64(0)
	var bad []string
	for p := int32(0); p < partitions; p++ {
		oldest, oerr := cl.GetOffset(topic, p, sarama.OffsetOldest)
		newest, nerr := cl.GetOffset(topic, p, sarama.OffsetNewest)
		if oerr != nil || nerr != nil || oldest != 0 {
			bad = append(bad, fmt.Sprintf("p%d oldest %d (%v) newest %d (%v)", p, oldest, oerr, newest, nerr))
		}
		total += newest
		if newest >= 2 && victim < 0 {
			victim, victimEnd = p, newest
		}
	}
	s.c.Check("list oldest and newest offsets", len(bad) == 0 && total == int64(s.n), "%v, sum of ends %d want %d", bad, total, s.n)
	if victim >= 0 {
		err = s.adm.DeleteRecords(topic, map[int32]int64{victim: 1})
		s.c.NoErr("admin delete records", err)
		if err := cl.RefreshMetadata(topic); err != nil {
			s.c.NoErr("refresh metadata", err)
		}
		oldest, oerr := cl.GetOffset(topic, victim, sarama.OffsetOldest)
		newest, nerr := cl.GetOffset(topic, victim, sarama.OffsetNewest)
		s.c.Check("oldest offset after delete records", oerr == nil && nerr == nil && oldest == 1 && newest == victimEnd,
			"p%d oldest %d (%v) newest %d (%v)", victim, oldest, oerr, newest, nerr)
	}

	value := "3600000"
	err = s.adm.IncrementalAlterConfig(sarama.TopicResource, topic,
		map[string]sarama.IncrementalAlterConfigsEntry{"retention.ms": {Operation: sarama.IncrementalAlterConfigsOperationSet, Value: &value}}, false)
	s.c.NoErr("admin incremental alter topic config", err)
	retention := ""
	for range 50 { // the change reaches every broker a little later on a multi-node cluster
		entries, derr := s.adm.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic})
		err = derr
		for _, e := range entries {
			if e.Name == "retention.ms" {
				retention = e.Value
			}
		}
		if retention == value {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.c.Check("admin describe the altered config", err == nil && retention == value, "err %v, retention.ms %q", err, retention)

	s.c.NoErr("admin create partitions", s.adm.CreatePartitions(topic, partitions+1, nil, false))
	count := 0
	for range 50 {
		md, derr := s.adm.DescribeTopics([]string{topic})
		err = derr
		if err == nil && len(md) == 1 {
			count = len(md[0].Partitions)
		}
		if count == partitions+1 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.c.Check("admin topic has the added partition", err == nil && count == partitions+1, "err %v, %d partitions", err, count)
}

func (s *smoke) adminGroupsAndCleanup(topics []string) {
	listed, err := s.adm.ListConsumerGroups()
	var missing []string
	for _, g := range s.groups {
		if listed[g] != "consumer" {
			missing = append(missing, fmt.Sprintf("%s (%q)", g, listed[g]))
		}
	}
	s.c.Check("admin list consumer groups", err == nil && len(missing) == 0, "err %v, missing %v", err, missing)
	ds, err := s.adm.DescribeConsumerGroups(s.groups)
	var notEmpty []string
	for _, d := range ds {
		if d.State != "Empty" || len(d.Members) != 0 {
			notEmpty = append(notEmpty, fmt.Sprintf("%s: %q with %d members", d.GroupId, d.State, len(d.Members)))
		}
	}
	s.c.Check("admin describe groups after the members left", err == nil && len(ds) == len(s.groups) && len(notEmpty) == 0,
		"err %v, %v", err, notEmpty)
	var errs []string
	for _, g := range s.groups {
		if err := s.adm.DeleteConsumerGroup(g); err != nil {
			errs = append(errs, g+": "+err.Error())
		}
	}
	s.c.Check("admin delete consumer groups", len(errs) == 0, "%v", errs)
	listed, err = s.adm.ListConsumerGroups()
	var left []string
	for _, g := range s.groups {
		if _, ok := listed[g]; ok {
			left = append(left, g)
		}
	}
	s.c.Check("admin deleted groups are no longer listed", err == nil && len(left) == 0, "err %v, still %v", err, left)
	errs = nil
	for _, t := range topics {
		if err := s.adm.DeleteTopic(t); err != nil {
			errs = append(errs, t+": "+err.Error())
		}
	}
	s.c.Check("admin delete topics", len(errs) == 0, "%v", errs)
	var still []string
	for range 50 { // metadata may trail DeleteTopics on a multi-node cluster
		still = still[:0]
		all, lerr := s.adm.ListTopics()
		err = lerr
		for _, t := range topics {
			if _, ok := all[t]; ok {
				still = append(still, t)
			}
		}
		if err == nil && len(still) == 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.c.Check("admin deleted topics are no longer listed", err == nil && len(still) == 0, "err %v, still %v", err, still)
}
