// Smoke test of kafka-server-mini (or any Kafka) with franz-go: kadm creates, lists,
// describes and deletes topics and groups; kgo produces keyed records with headers with
// every codec, a consumer group reads half of them and commits, a second consumer in the
// same group resumes at the committed offsets. Prints one PASS/FAIL line per check and
// exits 1 when any failed.
//
// usage: franz-smoke -bootstrap HOST:PORT[,HOST:PORT] [-n 40] [-codecs none,gzip,...] [-rf N] [-timeout 60s]
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
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"krafty/go-peers/smokecheck"
)

const partitions = 3

var codecs = map[string]kgo.CompressionCodec{
	"none":   kgo.NoCompression(),
	"gzip":   kgo.GzipCompression(),
	"snappy": kgo.SnappyCompression(),
	"lz4":    kgo.Lz4Compression(),
	"zstd":   kgo.ZstdCompression(),
}

type smoke struct {
	c      *smokecheck.Checker
	seeds  []string
	adm    *kadm.Client
	n      int
	wait   time.Duration
	groups []string
}

func main() {
	bootstrap := flag.String("bootstrap", "", "bootstrap servers, comma separated")
	n := flag.Int("n", 40, "messages per codec (even)")
	codecList := flag.String("codecs", "none,gzip,snappy,lz4,zstd", "codecs to produce with")
	rf := flag.Int("rf", 0, "replication factor of the test topics (0: min(3, brokers))")
	wait := flag.Duration("timeout", 60*time.Second, "how long each consume phase may take")
	flag.Parse()
	if *bootstrap == "" || *n < 2 {
		fmt.Fprintln(os.Stderr, "usage: franz-smoke -bootstrap HOST:PORT [-n 40] [-codecs none,gzip]")
		os.Exit(2)
	}
	s := &smoke{
		c:     &smokecheck.Checker{Client: "franz-go"},
		seeds: strings.Split(*bootstrap, ","),
		n:     *n &^ 1,
		wait:  *wait,
	}
	admCl, err := kgo.NewClient(kgo.SeedBrokers(s.seeds...))
	if !s.c.NoErr("admin client", err) {
		s.c.Exit()
	}
	defer admCl.Close()
	s.adm = kadm.NewClient(admCl)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	meta, err := s.adm.BrokerMetadata(ctx)
	s.c.Check("kadm describe cluster", err == nil && len(meta.Brokers) > 0, "err %v, brokers %v", err, meta.Brokers)

	if *rf <= 0 {
		*rf = min(3, max(1, len(meta.Brokers)))
	}
	run := strconv.FormatInt(time.Now().UnixNano()%1_000_000_000, 36) + "-" + strconv.Itoa(os.Getpid())
	names := strings.Split(*codecList, ",")
	var topics []string
	for _, codec := range names {
		if _, ok := codecs[codec]; !ok {
			fmt.Fprintf(os.Stderr, "unknown codec %q\n", codec)
			os.Exit(2)
		}
		topics = append(topics, "franz-"+codec+"-"+run)
	}
	s.adminTopics(ctx, topics, int16(*rf))
	started := time.Now().Add(-time.Second).UnixMilli()
	for i, codec := range names {
		s.codecRun(ctx, codec, topics[i])
	}
	s.adminOffsetsAndChanges(ctx, topics[0], started)
	s.adminGroupsAndCleanup(ctx, topics)
	s.c.Exit()
}

// adminTopics: create (and create again: TOPIC_ALREADY_EXISTS), list, describe configs.
func (s *smoke) adminTopics(ctx context.Context, topics []string, rf int16) {
	created, err := s.adm.CreateTopics(ctx, partitions, rf, nil, topics...)
	if err == nil {
		err = created.Error()
	}
	if !s.c.NoErr("kadm create topics", err) {
		s.c.Exit()
	}
	again, err := s.adm.CreateTopics(ctx, partitions, rf, nil, topics[0])
	s.c.Check("kadm create existing topic is TOPIC_ALREADY_EXISTS",
		err == nil && errors.Is(again[topics[0]].Err, kerr.TopicAlreadyExists), "err %v, topic err %v", err, again[topics[0]].Err)
	var listed kadm.TopicDetails
	for range 50 { // metadata may trail CreateTopics on a multi-node cluster
		listed, err = s.adm.ListTopics(ctx)
		if err == nil && allListed(listed, topics) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.c.Check("kadm list topics", err == nil && allListed(listed, topics), "err %v, listed %v", err, listed.Names())
	// any broker answers; on a multi-node cluster one may not know the new topic yet
	policy := ""
	for range 50 {
		cfgs, derr := s.adm.DescribeTopicConfigs(ctx, topics[0])
		err = derr
		if err == nil && len(cfgs) == 1 {
			err = cfgs[0].Err
			for _, c := range cfgs[0].Configs {
				if c.Key == "cleanup.policy" && c.Value != nil {
					policy = *c.Value
				}
			}
		}
		if policy != "" {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.c.Check("kadm describe topic configs", err == nil && policy == "delete", "err %v, cleanup.policy %q", err, policy)
}

func allListed(listed kadm.TopicDetails, topics []string) bool {
	for _, t := range topics {
		d, ok := listed[t]
		if !ok || d.Err != nil || len(d.Partitions) != partitions {
			return false
		}
	}
	return true
}

// codecRun produces n/2 records, consumes them in group 1 and commits, produces n/2 more,
// and resumes with a second consumer in the same group.
func (s *smoke) codecRun(ctx context.Context, codec, topic string) {
	label := "franz-" + codec
	group := "franz-group-" + topic
	s.groups = append(s.groups, group)
	r := &smokecheck.Run{Label: label, N: s.n, Partitions: partitions, Produced: map[int]smokecheck.Rec{}, Committed: map[int32]int64{}}
	prod, err := kgo.NewClient(kgo.SeedBrokers(s.seeds...), kgo.DefaultProduceTopic(topic),
		kgo.ProducerBatchCompression(codecs[codec]))
	if !s.c.NoErr(label+" producer", err) {
		return
	}
	defer prod.Close()
	s.produce(ctx, prod, r, 0, s.n/2)

	c1 := s.consumer(label+" consumer 1", group, topic)
	if c1 == nil {
		return
	}
	r.Phase1 = s.poll(ctx, c1, s.n/2, label+" consumer 1")
	s.c.NoErr(label+" consumer 1 commit", c1.CommitUncommittedOffsets(ctx))
	s.describeActiveGroup(ctx, label, group, topic)
	c1.Close() // leaves the group
	r.Committed = s.committed(ctx, label+" committed offsets after consumer 1", group, topic)

	s.produce(ctx, prod, r, s.n/2, s.n)
	c2 := s.consumer(label+" consumer 2", group, topic)
	if c2 == nil {
		return
	}
	r.Phase2 = s.poll(ctx, c2, s.n-len(r.Phase1), label+" consumer 2")
	s.c.NoErr(label+" consumer 2 commit", c2.CommitUncommittedOffsets(ctx))
	c2.Close()
	final := s.committed(ctx, label+" committed offsets after consumer 2", group, topic)
	ends, err := s.adm.ListEndOffsets(ctx, topic)
	var diff []string
	if err == nil {
		ends.Each(func(o kadm.ListedOffset) {
			if final[o.Partition] != o.Offset && o.Offset > 0 {
				diff = append(diff, fmt.Sprintf("p%d committed %d end %d", o.Partition, final[o.Partition], o.Offset))
			}
		})
	}
	s.c.Check(label+" final commits equal the end offsets", err == nil && len(diff) == 0, "err %v %v", err, diff)
	s.c.Verify(r)
}

func (s *smoke) produce(ctx context.Context, prod *kgo.Client, r *smokecheck.Run, from, to int) {
	var recs []*kgo.Record
	for seq := from; seq < to; seq++ {
		recs = append(recs, &kgo.Record{
			Key:     []byte(smokecheck.Key(seq)),
			Value:   []byte(smokecheck.Value(r.Label, seq)),
			Headers: []kgo.RecordHeader{{Key: smokecheck.HeaderName, Value: []byte(strconv.Itoa(seq))}},
		})
	}
	seqOf := map[*kgo.Record]int{}
	for i, rec := range recs {
		seqOf[rec] = from + i
	}
	// results come back in completion order, not in the order of recs
	res := prod.ProduceSync(ctx, recs...)
	var wrongPart []string
	for _, pr := range res {
		seq, ok := seqOf[pr.Record]
		if pr.Err != nil || !ok {
			continue
		}
		r.Produced[seq] = smokecheck.Rec{Partition: pr.Record.Partition, Offset: pr.Record.Offset}
		if want := smokecheck.JavaPartition(pr.Record.Key, partitions); want != pr.Record.Partition {
			wrongPart = append(wrongPart, fmt.Sprintf("%s->p%d (murmur2 p%d)", pr.Record.Key, pr.Record.Partition, want))
		}
	}
	s.c.NoErr(fmt.Sprintf("%s produce %d..%d", r.Label, from, to-1), res.FirstErr())
	s.c.Check(r.Label+" keyed records on the murmur2 partition", len(wrongPart) == 0, "%v", wrongPart)
}

func (s *smoke) consumer(name, group, topic string) *kgo.Client {
	cl, err := kgo.NewClient(kgo.SeedBrokers(s.seeds...), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.DisableAutoCommit(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxWait(500*time.Millisecond))
	if !s.c.NoErr(name, err) {
		return nil
	}
	return cl
}

// poll reads until want records arrived or the phase timeout passes.
func (s *smoke) poll(ctx context.Context, cl *kgo.Client, want int, name string) []smokecheck.Rec {
	ctx, cancel := context.WithTimeout(ctx, s.wait)
	defer cancel()
	var got []smokecheck.Rec
	var errs []string
	for len(got) < want && ctx.Err() == nil {
		fetches := cl.PollFetches(ctx)
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && len(errs) < 5 {
				errs = append(errs, fmt.Sprintf("%s[%d]: %v", t, p, err))
			}
		})
		fetches.EachRecord(func(rec *kgo.Record) {
			out := smokecheck.Rec{Partition: rec.Partition, Offset: rec.Offset, Key: string(rec.Key), Value: string(rec.Value)}
			for _, h := range rec.Headers {
				if h.Key == smokecheck.HeaderName {
					out.Header, out.HasHeader = string(h.Value), true
				}
			}
			got = append(got, out)
		})
	}
	s.c.Check(name+" fetched without errors", len(errs) == 0, "%v", errs)
	s.c.Check(name+" received its records", len(got) >= want, "%d of %d within %v", len(got), want, s.wait)
	return got
}

func (s *smoke) describeActiveGroup(ctx context.Context, label, group, topic string) {
	described, err := s.adm.DescribeGroups(ctx, group)
	d := described[group]
	var parts []int32
	if set := d.AssignedPartitions(); set != nil {
		for p := range set[topic] {
			parts = append(parts, p)
		}
	}
	slices.Sort(parts)
	s.c.Check(label+" kadm describe active group", err == nil && d.Err == nil && d.State == "Stable" &&
		len(d.Members) == 1 && d.ProtocolType == "consumer" && slices.Equal(parts, []int32{0, 1, 2}),
		"err %v/%v state %q members %d protocol type %q assigned %v", err, d.Err, d.State, len(d.Members), d.ProtocolType, parts)
}

func (s *smoke) committed(ctx context.Context, name, group, topic string) map[int32]int64 {
	out := map[int32]int64{}
	offs, err := s.adm.FetchOffsets(ctx, group)
	if err == nil {
		err = offs.Error()
	}
	if s.c.NoErr("kadm "+name, err) {
		for p, o := range offs[topic] {
			if o.At >= 0 {
				out[p] = o.At
			}
		}
	}
	return out
}

// adminOffsetsAndChanges, on a topic holding n records: list start/end offsets and offsets
// by time, delete records, alter a topic config, add a partition.
func (s *smoke) adminOffsetsAndChanges(ctx context.Context, topic string, before int64) {
	starts, err := s.adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	var bad []string
	starts.Each(func(o kadm.ListedOffset) {
		if o.Offset != 0 {
			bad = append(bad, fmt.Sprintf("p%d start %d", o.Partition, o.Offset))
		}
	})
	s.c.Check("kadm list start offsets", err == nil && len(bad) == 0, "err %v %v", err, bad)
	ends, err := s.adm.ListEndOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	var total int64
	victim, victimEnd := int32(-1), int64(0)
	ends.Each(func(o kadm.ListedOffset) {
		total += o.Offset
		if o.Offset >= 2 && victim < 0 {
			victim, victimEnd = o.Partition, o.Offset
		}
	})
	s.c.Check("kadm list end offsets", err == nil && total == int64(s.n), "err %v, sum %d want %d", err, total, s.n)
	byTime, err := s.adm.ListOffsetsAfterMilli(ctx, before, topic)
	bad = bad[:0]
	byTime.Each(func(o kadm.ListedOffset) {
		if end, ok := ends.Lookup(topic, o.Partition); ok && end.Offset > 0 && o.Offset != 0 {
			bad = append(bad, fmt.Sprintf("p%d: %d", o.Partition, o.Offset))
		}
	})
	s.c.Check("kadm list offsets by time", err == nil && len(bad) == 0, "err %v %v", err, bad)

	if victim >= 0 {
		var os kadm.Offsets
		os.AddOffset(topic, victim, 1, -1)
		deleted, err := s.adm.DeleteRecords(ctx, os)
		if err == nil {
			err = deleted.Error()
		}
		low := deleted[topic][victim].LowWatermark
		s.c.Check("kadm delete records", err == nil && low == 1, "err %v, low watermark %d", err, low)
		starts, err = s.adm.ListStartOffsets(ctx, topic)
		st, _ := starts.Lookup(topic, victim)
		en, _ := ends.Lookup(topic, victim)
		s.c.Check("kadm start offset after delete records", err == nil && st.Offset == 1 && en.Offset == victimEnd,
			"err %v, p%d start %d", err, victim, st.Offset)
	}

	altered, err := s.adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Name: "retention.ms", Value: kadm.StringPtr("3600000")}}, topic)
	if err == nil && len(altered) == 1 {
		err = altered[0].Err
	}
	s.c.NoErr("kadm incremental alter topic config", err)
	retention := ""
	for range 50 { // the change reaches every broker a little later on a multi-node cluster
		cfgs, derr := s.adm.DescribeTopicConfigs(ctx, topic)
		err = derr
		if err == nil && len(cfgs) == 1 {
			for _, c := range cfgs[0].Configs {
				if c.Key == "retention.ms" && c.Value != nil {
					retention = *c.Value
				}
			}
		}
		if retention == "3600000" {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.c.Check("kadm describe the altered config", err == nil && retention == "3600000", "err %v, retention.ms %q", err, retention)

	grown, err := s.adm.CreatePartitions(ctx, 1, topic)
	if err == nil {
		err = grown.Error()
	}
	s.c.NoErr("kadm create partitions", err)
	count := 0
	for range 50 {
		listed, lerr := s.adm.ListTopics(ctx, topic)
		err = lerr
		count = len(listed[topic].Partitions)
		if err == nil && count == partitions+1 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.c.Check("kadm topic has the added partition", err == nil && count == partitions+1, "err %v, %d partitions", err, count)
}

// adminGroupsAndCleanup lists and describes the (now empty) groups, deletes them and the
// topics, and checks they are gone.
func (s *smoke) adminGroupsAndCleanup(ctx context.Context, topics []string) {
	listed, err := s.adm.ListGroups(ctx)
	var missing []string
	for _, g := range s.groups {
		if _, ok := listed[g]; !ok {
			missing = append(missing, g)
		}
	}
	s.c.Check("kadm list groups", err == nil && len(missing) == 0, "err %v, missing %v", err, missing)
	described, err := s.adm.DescribeGroups(ctx, s.groups...)
	var notEmpty []string
	for _, g := range s.groups {
		if d := described[g]; d.State != "Empty" || len(d.Members) != 0 {
			notEmpty = append(notEmpty, fmt.Sprintf("%s: %q with %d members", g, d.State, len(d.Members)))
		}
	}
	s.c.Check("kadm describe groups after the members left", err == nil && len(notEmpty) == 0, "err %v, %v", err, notEmpty)
	deleted, err := s.adm.DeleteGroups(ctx, s.groups...)
	if err == nil {
		err = deleted.Error()
	}
	s.c.NoErr("kadm delete groups", err)
	listed, err = s.adm.ListGroups(ctx)
	var left []string
	for _, g := range s.groups {
		if _, ok := listed[g]; ok {
			left = append(left, g)
		}
	}
	s.c.Check("kadm deleted groups are no longer listed", err == nil && len(left) == 0, "err %v, still %v", err, left)

	dt, err := s.adm.DeleteTopics(ctx, topics...)
	if err == nil {
		err = dt.Error()
	}
	s.c.NoErr("kadm delete topics", err)
	var still []string
	for range 50 { // metadata may trail DeleteTopics on a multi-node cluster
		still = still[:0]
		all, lerr := s.adm.ListTopics(ctx)
		err = lerr
		for _, t := range topics {
			if all.Has(t) {
				still = append(still, t)
			}
		}
		if err == nil && len(still) == 0 {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.c.Check("kadm deleted topics are no longer listed", err == nil && len(still) == 0, "err %v, still %v", err, still)
}
