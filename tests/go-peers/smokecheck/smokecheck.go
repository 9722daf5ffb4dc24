// Package smokecheck holds what both Go smoke programs check: PASS/FAIL lines, the
// exactly-once / order / key-partition / header / resume checks over a two-phase
// consumer-group run, and Java's murmur2 key partitioner.
package smokecheck

import (
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
)

// Checker prints one PASS or FAIL line per check and counts the failures.
type Checker struct {
	Client string
	fails  int
}

// Check prints `PASS client name` when ok, else `FAIL client name: detail`.
func (c *Checker) Check(name string, ok bool, format string, args ...any) bool {
	if ok {
		fmt.Printf("PASS %s %s\n", c.Client, name)
	} else {
		c.fails++
		fmt.Printf("FAIL %s %s: %s\n", c.Client, name, fmt.Sprintf(format, args...))
	}
	return ok
}

// NoErr is Check(name, err == nil, err).
func (c *Checker) NoErr(name string, err error) bool {
	return c.Check(name, err == nil, "%v", err)
}

// Exit prints the summary line and exits 1 when any check failed.
func (c *Checker) Exit() {
	if c.fails > 0 {
		fmt.Printf("RESULT %s FAIL (%d failed checks)\n", c.Client, c.fails)
		os.Exit(1)
	}
	fmt.Printf("RESULT %s PASS\n", c.Client)
	os.Exit(0)
}

// Key is the key of message seq (17 distinct keys).
func Key(seq int) string { return "key-" + strconv.Itoa(seq%17) }

// Value is the value of message seq: "label:seq".
func Value(label string, seq int) string { return label + ":" + strconv.Itoa(seq) }

// HeaderName is the header every message carries with its sequence number.
const HeaderName = "smoke-seq"

// Rec is one record as produced (Seq, Partition, Offset) or consumed (all fields).
type Rec struct {
	Partition int32
	Offset    int64
	Key       string
	Value     string
	Header    string // value of HeaderName, "" when absent
	HasHeader bool
}

// Run is one two-phase run over one topic: the producer's acknowledgements, what consumer
// 1 read before committing, what it committed, and what consumer 2 (same group) read.
type Run struct {
	Label      string
	N          int
	Partitions int32
	Produced   map[int]Rec // seq -> where the producer was told it went
	Phase1     []Rec
	Phase2     []Rec
	Committed  map[int32]int64 // partition -> next offset, as read back from the broker
}

// Verify checks the run: every message consumed exactly once over both phases, per
// partition offsets strictly increasing and in produce order, one key -> one partition,
// the header matches the value, consumer 2 resumes every partition exactly at the offset
// consumer 1 committed.
func (c *Checker) Verify(r *Run) {
	p := r.Label + " "
	c.Check(p+"producer acknowledged every message", len(r.Produced) == r.N, "%d of %d", len(r.Produced), r.N)
	seen := map[int]int{}
	perPart := map[int32][]Rec{}
	keyPart := map[string]int32{}
	var bad []string
	note := func(format string, args ...any) {
		if len(bad) < 8 {
			bad = append(bad, fmt.Sprintf(format, args...))
		}
	}
	for phase, recs := range [][]Rec{r.Phase1, r.Phase2} {
		for _, rec := range recs {
			i := strings.LastIndexByte(rec.Value, ':')
			seq, err := strconv.Atoi(rec.Value[i+1:])
			if i < 0 || err != nil || rec.Value[:i] != r.Label {
				note("unexpected value %q at p%d@%d", rec.Value, rec.Partition, rec.Offset)
				continue
			}
			seen[seq]++
			perPart[rec.Partition] = append(perPart[rec.Partition], rec)
			if !rec.HasHeader || rec.Header != strconv.Itoa(seq) {
				note("seq %d (phase %d): header %s=%q present=%v", seq, phase+1, HeaderName, rec.Header, rec.HasHeader)
			}
			if rec.Key != Key(seq) {
				note("seq %d: key %q, want %q", seq, rec.Key, Key(seq))
			}
			if prev, ok := keyPart[rec.Key]; ok && prev != rec.Partition {
				note("key %s in partitions %d and %d", rec.Key, prev, rec.Partition)
			}
			keyPart[rec.Key] = rec.Partition
			if pr, ok := r.Produced[seq]; ok && (pr.Partition != rec.Partition || pr.Offset != rec.Offset) {
				note("seq %d produced at p%d@%d, consumed at p%d@%d", seq, pr.Partition, pr.Offset, rec.Partition, rec.Offset)
			}
		}
	}
	c.Check(p+"values, keys, headers and produce acks match what was consumed", len(bad) == 0, "%s", strings.Join(bad, "; "))
	var missing, dups []int
	for s := 0; s < r.N; s++ {
		switch {
		case seen[s] == 0:
			missing = append(missing, s)
		case seen[s] > 1:
			dups = append(dups, s)
		}
	}
	c.Check(p+"every message consumed exactly once", len(missing) == 0 && len(dups) == 0,
		"missing %v, duplicated %v", head(missing), head(dups))
	var order []string
	for part, recs := range perPart {
		for i := 1; i < len(recs); i++ {
			a, b := recs[i-1], recs[i]
			if a.Offset >= b.Offset || seqOf(a) >= seqOf(b) {
				order = append(order, fmt.Sprintf("p%d: %s@%d then %s@%d", part, a.Value, a.Offset, b.Value, b.Offset))
				break
			}
		}
	}
	sort.Strings(order)
	c.Check(p+"per-partition offsets and produce order preserved", len(order) == 0, "%s", strings.Join(order, "; "))
	c.Check(p+"keys spread over several partitions", len(perPart) >= 2 || r.Partitions < 2, "only %d partition(s) used", len(perPart))
	c.Check(p+"consumer 1 committed", len(r.Committed) > 0, "nothing committed")
	var resume []string
	last1 := map[int32]int64{}
	for _, rec := range r.Phase1 {
		if rec.Offset+1 > last1[rec.Partition] {
			last1[rec.Partition] = rec.Offset + 1
		}
	}
	for part, next := range last1 {
		if r.Committed[part] != next {
			resume = append(resume, fmt.Sprintf("p%d committed %d, consumer 1 read up to %d", part, r.Committed[part], next))
		}
	}
	first2 := map[int32]int64{}
	for _, rec := range r.Phase2 {
		if _, ok := first2[rec.Partition]; !ok {
			first2[rec.Partition] = rec.Offset
		}
	}
	for part, first := range first2 {
		if want, ok := r.Committed[part]; ok && first != want {
			resume = append(resume, fmt.Sprintf("p%d: consumer 2 started at %d, committed %d", part, first, want))
		}
	}
	sort.Strings(resume)
	c.Check(p+"consumer 2 resumed exactly at the committed offsets", len(resume) == 0 && len(r.Phase2) > 0,
		"%s (consumer 2 read %d)", strings.Join(resume, "; "), len(r.Phase2))
}

func seqOf(r Rec) int {
	i := strings.LastIndexByte(r.Value, ':')
	s, _ := strconv.Atoi(r.Value[i+1:])
	return s
}

func head(xs []int) []int {
	if len(xs) > 5 {
		return xs[:5]
	}
	return xs
}

// Murmur2 is Kafka's murmur2 hash (org.apache.kafka.common.utils.Utils.murmur2).
func Murmur2(data []byte) int32 {
	const seed uint32 = 0x9747b28c
	const m uint32 = 0x5bd1e995
	const r = 24
	length := len(data)
	h := seed ^ uint32(length)
	n4 := length / 4
	for i := 0; i < n4; i++ {
		k := uint32(data[i*4]) | uint32(data[i*4+1])<<8 | uint32(data[i*4+2])<<16 | uint32(data[i*4+3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
	}
	rest := data[n4*4:]
	switch len(rest) {
	case 3:
		h ^= uint32(rest[2]) << 16
		fallthrough
	case 2:
		h ^= uint32(rest[1]) << 8
		fallthrough
	case 1:
		h ^= uint32(rest[0])
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return int32(h)
}

// JavaPartition is the partition the Java producer picks for a keyed record.
func JavaPartition(key []byte, partitions int32) int32 {
	return (Murmur2(key) & 0x7fffffff) % partitions
}
