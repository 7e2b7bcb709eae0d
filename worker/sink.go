package worker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/worker/rest"
)

// sinkTask runs a SinkTask: a consumer in the group connect-<name> reads
// the topics, records go through converters and transforms to Put, and
// every offset.flush.interval.ms the task flushes (or pre-commits) and
// exactly the flushed offsets are committed.
type sinkTask struct {
	r         *taskRunner
	class     string
	task      connect.SinkTask
	pl        *pipeline
	errs      *errorHandler
	connProps map[string]string
	cl        *kgo.Client
	maxPut    int // max.poll.records

	mu          sync.Mutex
	assigned    map[connect.TopicPartition]bool
	current     map[connect.TopicPartition]int64 // next offset after the last record put
	committed   map[connect.TopicPartition]int64
	taskPaused  map[connect.TopicPartition]bool
	fetchPaused map[connect.TopicPartition]bool // what the consumer has paused
	rewinds     map[connect.TopicPartition]int64
	batch       []*connect.Record // the batch being put and, beside it,
	origins     []*kgo.Record     // the consumed records it came from, for Report
	failed      atomic.Bool
	commitReq   atomic.Bool
	asyncErr    error

	// reuse is set when the task releases its records after Put
	// (connect.SinkRecordReleaser): then every Put's records and batch live
	// in these buffers, kept from Put to Put. A task that may keep records
	// gets fresh ones each Put. origins, the runtime's own, is always reused.
	reuse     bool
	slab      []connect.Record
	batchBuf  []*connect.Record
	originBuf []*kgo.Record
	bufUsed   bool          // the buffers hold references to fetched records
	mixBuf    []*kgo.Record // a poll's records in the order of its Puts: see interleave
}

// regexMetadataMaxAge is how often a topics.regex sink looks for new topics.
const regexMetadataMaxAge = 10 * time.Second

// ConnectorName implements connect.TaskContext.
func (s *sinkTask) ConnectorName() string { return s.r.id.Connector }

// TaskID implements connect.TaskContext.
func (s *sinkTask) TaskID() int { return s.r.id.Task }

// Assignment implements connect.SinkTaskContext.
func (s *sinkTask) Assignment() []connect.TopicPartition {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]connect.TopicPartition, 0, len(s.assigned))
	for tp := range s.assigned {
		out = append(out, tp)
	}
	return out
}

// Pause implements connect.SinkTaskContext.
func (s *sinkTask) Pause(partitions ...connect.TopicPartition) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, tp := range partitions {
		s.taskPaused[tp] = true
	}
}

// Resume implements connect.SinkTaskContext.
func (s *sinkTask) Resume(partitions ...connect.TopicPartition) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, tp := range partitions {
		delete(s.taskPaused, tp)
	}
}

// Rewind implements connect.SinkTaskContext.
func (s *sinkTask) Rewind(offsets map[connect.TopicPartition]int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for tp, o := range offsets {
		s.rewinds[tp] = o
	}
}

// RequestCommit implements connect.SinkTaskContext.
func (s *sinkTask) RequestCommit() { s.commitReq.Store(true) }

// Report implements connect.SinkTaskContext.
func (s *sinkTask) Report(ctx context.Context, rec *connect.Record, err error) error {
	var raw *rawRecord
	s.mu.Lock()
	for i, r := range s.batch {
		if r == rec {
			// Copied under the lock: once the Put is done (s.batch cleared
			// under it), the loop recycles the fetched record, and a task
			// may Report from a goroutine of its own.
			raw = kafkaRaw(s.origins[i])
			break
		}
	}
	s.mu.Unlock()
	if raw == nil {
		raw = &rawRecord{topic: rec.Topic, partition: rec.Partition, offset: rec.Offset}
		raw.key, raw.value, raw.headers = s.reconvert(rec)
	}
	return s.errs.handle(ctx, StageTaskPut, s.class, raw, err)
}

// reconvert renders a record reported after its batch was put (by a sink
// that writes asynchronously) with the connector's own converters, so its
// dead letter queue copy is in the topic's format rather than re-rendered as
// JSON; what a converter cannot render falls back to JSON.
func (s *sinkTask) reconvert(rec *connect.Record) (key, value []byte, headers []kgo.RecordHeader) {
	jsonKey, jsonValue := renderSourceRecord(rec)
	var err error
	if key, err = s.pl.keyConv.FromConnect(rec.Topic, rec.KeySchema, rec.Key); err != nil {
		key = jsonKey
	}
	if value, err = s.pl.valueConv.FromConnect(rec.Topic, rec.ValueSchema, rec.Value); err != nil {
		value = jsonValue
	}
	for _, h := range rec.Headers {
		if b, err := s.pl.headerConv.FromConnectHeader(rec.Topic, h.Key, h.Schema, h.Value); err == nil {
			headers = append(headers, kgo.RecordHeader{Key: h.Key, Value: b})
		}
	}
	return key, value, headers
}

func kafkaRaw(r *kgo.Record) *rawRecord {
	return &rawRecord{topic: r.Topic, partition: r.Partition, offset: r.Offset, key: r.Key, value: r.Value, headers: r.Headers}
}

func (s *sinkTask) setAsyncErr(err error) {
	s.mu.Lock()
	if s.asyncErr == nil {
		s.asyncErr = err
	}
	s.mu.Unlock()
}

func (s *sinkTask) run(ctx context.Context, props map[string]string) error {
	h := s.r.h
	id := s.r.id
	s.assigned, s.current, s.committed = map[connect.TopicPartition]bool{}, map[connect.TopicPartition]int64{}, map[connect.TopicPartition]int64{}
	s.taskPaused, s.fetchPaused, s.rewinds = map[connect.TopicPartition]bool{}, map[connect.TopicPartition]bool{}, map[connect.TopicPartition]int64{}
	opts, err := s.consumerOpts()
	if err != nil {
		return err
	}
	base, err := h.roleOpts(roleConsumer, s.connProps)
	if err != nil {
		return err
	}
	opts = append(append(base, opts...),
		kgo.ClientID(fmt.Sprintf("connector-consumer-%s-%d", id.Connector, id.Task)),
		kgo.ConsumerGroup(sinkGroup(id.Connector, s.connProps)),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(s.onAssigned),
		kgo.OnPartitionsRevoked(s.onRevoked),
		kgo.OnPartitionsLost(s.onLost),
		kgo.WithPools(fetchedRecords),
	)
	if re := strings.TrimSpace(s.connProps[KeyTopicsRegex]); re != "" {
		if _, err := regexp.Compile(re); err != nil {
			return fmt.Errorf("topics.regex: %w", err)
		}
		// A regex subscription sees new topics on a metadata refresh.
		// Kafka's consumer refreshes every 5 minutes; Penstock's regex sinks
		// every 10 s by default, so a sink created with its source picks up
		// the source's topics at once.
		age, err := s.consumerInt("metadata.max.age.ms", int(regexMetadataMaxAge/time.Millisecond))
		if err != nil {
			return err
		}
		opts = append(opts, kgo.ConsumeRegex(), kgo.ConsumeTopics(re), kgo.MetadataMaxAge(millis(age)), kgo.MetadataMinAge(min(millis(age), 5*time.Second)))
	} else {
		opts = append(opts, kgo.ConsumeTopics(splitList(s.connProps[KeyTopics])...))
	}
	if rr, ok := s.task.(connect.SinkRecordReleaser); ok {
		s.reuse = rr.ReleasesRecords()
	}
	if err := s.task.Start(ctx, s, props); err != nil {
		return fmt.Errorf("task %s-%d failed to start: %w", id.Connector, id.Task, err)
	}
	s.r.log.Info("sink task started", "class", s.class)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		s.task.Stop()
		return fmt.Errorf("consumer: %w", err)
	}
	s.cl = cl
	defer s.r.h.metrics.buffered.add(id, "consumer", cl.BufferedFetchBytes)()
	loopErr := s.loop(ctx)
	if loopErr != nil {
		s.failed.Store(true)
	}
	// Final flush and commit, then close every partition (Kafka Connect's
	// closePartitions), stop the task, leave the group.
	sctx, cancel := context.WithTimeout(context.Background(), h.cfg.TaskShutdownLimit+h.cfg.OffsetFlushLimit)
	all := s.Assignment()
	s.revoke(sctx, all, !s.failed.Load())
	cancel()
	if err := s.task.Stop(); err != nil {
		s.r.log.Warn("sink task stop failed", "err", err)
	}
	cl.Close()
	return loopErr
}

// Consumer defaults of sink tasks where Penstock's differ from Kafka's.
const (
	// defaultPartitionFetchBytes is max.partition.fetch.bytes (Kafka: 1 MiB).
	// A sink works through one fetch while franz-go brings the next, and a
	// smaller fetch keeps those two cheap for the garbage collector.
	defaultPartitionFetchBytes = 256 << 10
	// defaultFetchMaxBytes is fetch.max.bytes (Kafka and franz-go: 50 MiB),
	// the most one fetch response brings over all partitions: a sink with
	// many partitions keeps at most this much of each of its two fetches.
	// bench/worker -sink-fetch measured 4, 8, 16 and 50 MiB at the same CPU
	// per record (236-242 ns, noise), so the smallest.
	defaultFetchMaxBytes = 4 << 20
	// defaultFetchMaxWaitMillis is fetch.max.wait.ms (Kafka: 500, franz-go: 5000).
	defaultFetchMaxWaitMillis = 500
	// defaultMaxPollRecords is max.poll.records: the most records of one Put.
	defaultMaxPollRecords = 500
)

// consumerOpts reads the consumer keys a sink honours, from consumer.<key>
// (worker) and its connector override consumer.override.<key>, as in Kafka
// Connect, and sets s.maxPut.
func (s *sinkTask) consumerOpts() ([]kgo.Opt, error) {
	var opts []kgo.Opt
	var err error
	get := func(key string, def int) int {
		v, e := s.consumerInt(key, def)
		err = errors.Join(err, e)
		return v
	}
	if v := get("session.timeout.ms", 0); v > 0 {
		opts = append(opts, kgo.SessionTimeout(millis(v)))
	}
	opts = append(opts, kgo.FetchMaxBytes(int32(get("fetch.max.bytes", defaultFetchMaxBytes))))
	if v := get("fetch.min.bytes", 0); v > 0 {
		opts = append(opts, kgo.FetchMinBytes(int32(v)))
	}
	opts = append(opts,
		kgo.FetchMaxPartitionBytes(int32(get("max.partition.fetch.bytes", defaultPartitionFetchBytes))),
		kgo.FetchMaxWait(millis(get("fetch.max.wait.ms", defaultFetchMaxWaitMillis))))
	s.maxPut = get("max.poll.records", defaultMaxPollRecords)
	return opts, err
}

// consumerInt reads a positive integer consumer key (see consumerOpts).
func (s *sinkTask) consumerInt(key string, def int) (int, error) {
	return clientInt(s.connProps, s.r.h.cfg.Props, "consumer", key, def)
}

// clientInt reads a positive integer client key, role "consumer" or
// "producer": the connector's <role>.override.<key>, else the worker's
// <role>.<key>, else def, as Kafka Connect resolves them.
func clientInt(connProps, workerProps map[string]string, role, key string, def int) (int, error) {
	return clientIntMin(connProps, workerProps, role, key, def, 1)
}

// clientIntMin is clientInt for keys whose smallest value is min.
func clientIntMin(connProps, workerProps map[string]string, role, key string, def, min int) (int, error) {
	v := firstSet(connProps[role+".override."+key], workerProps[role+"."+key])
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil || n < int64(min) {
		return 0, fmt.Errorf("%s %s %q: not a number of at least %d", role, key, v, min)
	}
	return int(n), nil
}

func millis(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func firstSet(vs ...string) string {
	for _, v := range vs {
		if v = strings.TrimSpace(v); v != "" {
			return v
		}
	}
	return ""
}

func tpsOf(m map[string][]int32) []connect.TopicPartition {
	var out []connect.TopicPartition
	for t, ps := range m {
		for _, p := range ps {
			out = append(out, connect.TopicPartition{Topic: t, Partition: p})
		}
	}
	return out
}

func (s *sinkTask) onAssigned(ctx context.Context, _ *kgo.Client, assigned map[string][]int32) {
	tps := tpsOf(assigned)
	s.mu.Lock()
	for _, tp := range tps {
		s.assigned[tp] = true
	}
	s.mu.Unlock()
	if ph, ok := s.task.(connect.SinkPartitionHandler); ok && len(tps) > 0 {
		if err := ph.Open(ctx, tps); err != nil {
			s.setAsyncErr(fmt.Errorf("open partitions: %w", err))
		}
	}
	s.r.log.Info("partitions assigned", "partitions", len(tps))
}

func (s *sinkTask) onRevoked(ctx context.Context, _ *kgo.Client, revoked map[string][]int32) {
	s.revoke(ctx, tpsOf(revoked), !s.failed.Load())
}

func (s *sinkTask) onLost(ctx context.Context, _ *kgo.Client, lost map[string][]int32) {
	s.revoke(ctx, tpsOf(lost), false)
}

// revoke flushes and commits the partitions (when commit), closes them in
// the task and forgets them.
func (s *sinkTask) revoke(ctx context.Context, tps []connect.TopicPartition, commit bool) {
	s.mu.Lock()
	var mine []connect.TopicPartition
	for _, tp := range tps {
		if s.assigned[tp] {
			mine = append(mine, tp)
		}
	}
	s.mu.Unlock()
	if len(mine) == 0 {
		return
	}
	if commit {
		s.commit(ctx, mine)
	}
	if ph, ok := s.task.(connect.SinkPartitionHandler); ok {
		if err := ph.Close(ctx, mine); err != nil {
			s.r.log.Warn("closing partitions failed", "err", err)
		}
	}
	s.mu.Lock()
	for _, tp := range mine {
		delete(s.assigned, tp)
		delete(s.current, tp)
		delete(s.committed, tp)
		delete(s.taskPaused, tp)
		delete(s.fetchPaused, tp)
		delete(s.rewinds, tp)
	}
	s.mu.Unlock()
}

// control applies rewinds and the wanted paused set to the consumer.
func (s *sinkTask) control(connPaused bool) {
	s.mu.Lock()
	rewinds := s.rewinds
	s.rewinds = map[connect.TopicPartition]int64{}
	set := map[string]map[int32]kgo.EpochOffset{}
	for tp, o := range rewinds {
		if !s.assigned[tp] {
			continue
		}
		if set[tp.Topic] == nil {
			set[tp.Topic] = map[int32]kgo.EpochOffset{}
		}
		set[tp.Topic][tp.Partition] = kgo.EpochOffset{Epoch: -1, Offset: o}
		s.current[tp] = o
	}
	pause, resume := map[string][]int32{}, map[string][]int32{}
	for tp := range s.assigned {
		want := connPaused || s.taskPaused[tp]
		if want && !s.fetchPaused[tp] {
			pause[tp.Topic] = append(pause[tp.Topic], tp.Partition)
			s.fetchPaused[tp] = true
		} else if !want && s.fetchPaused[tp] {
			resume[tp.Topic] = append(resume[tp.Topic], tp.Partition)
			delete(s.fetchPaused, tp)
		}
	}
	s.mu.Unlock()
	if len(set) > 0 {
		s.cl.SetOffsets(set)
	}
	if len(pause) > 0 {
		s.cl.PauseFetchPartitions(pause)
	}
	if len(resume) > 0 {
		s.cl.ResumeFetchPartitions(resume)
	}
}

func (s *sinkTask) loop(ctx context.Context) error {
	h := s.r.h
	lastCommit := time.Now()
	consumed := h.metrics.consumed.WithLabelValues(s.r.id.Connector)
	for {
		if ctx.Err() != nil {
			return nil
		}
		s.mu.Lock()
		aerr := s.asyncErr
		s.mu.Unlock()
		if aerr != nil {
			return aerr
		}
		paused, _ := s.r.pauseState()
		if paused {
			s.r.setState(rest.StatePaused)
		} else {
			s.r.setState(rest.StateRunning)
		}
		s.control(paused)
		// Everything buffered: franz-go fetches the next batch only once
		// this one is taken, so it arrives while these are put.
		pctx, cancel := context.WithTimeout(ctx, time.Second)
		fs := s.cl.PollRecords(pctx, 0)
		cancel()
		if fs.IsClientClosed() {
			return nil
		}
		var fatal error
		fs.EachError(func(t string, p int32, err error) {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				return
			}
			if isRetriable(err) {
				s.r.log.Warn("consumer fetch error; retrying", "topic", t, "partition", p, "err", err)
				return
			}
			fatal = fmt.Errorf("consuming %s/%d: %w", t, p, err)
		})
		if fatal != nil {
			s.cl.AllowRebalance()
			return fatal
		}
		recs := fs.Records()
		if len(recs) == 0 {
			s.releaseBuffers()
		}
		err := s.putAll(ctx, recs, consumed)
		for _, r := range recs {
			r.Recycle() // put, given back or failed: nothing refers to it any more
		}
		if err != nil {
			s.cl.AllowRebalance()
			return err
		}
		if time.Since(lastCommit) >= h.cfg.OffsetFlushEvery || s.commitReq.Swap(false) {
			s.commit(ctx, s.Assignment())
			lastCommit = time.Now()
		}
		s.cl.AllowRebalance()
	}
}

// putAll processes recs in Puts of at most max.poll.records. When the task
// stops, fails, asks for a rewind or a pause, or the connector is paused,
// the records not yet put go back to the consumer.
func (s *sinkTask) putAll(ctx context.Context, recs []*kgo.Record, consumed prometheus.Counter) error {
	if len(recs) > s.maxPut {
		recs = s.interleave(recs)
		defer clear(s.mixBuf)
	}
	for len(recs) > 0 {
		n := min(len(recs), s.maxPut)
		if err := s.process(ctx, recs[:n]); err != nil {
			return err
		}
		consumed.Add(float64(n))
		s.r.tm.read(recs[:n])
		if recs = recs[n:]; len(recs) > 0 && s.interrupted(ctx) {
			s.giveBack(recs)
			return nil
		}
	}
	return nil
}

// fetchedRecords is the pool the sinks' consumers decode fetched records
// into (franz-go's kgo.PoolRecords): the loop recycles every record once its
// Put is done, so that from poll to poll the records' memory is reused
// rather than allocated (a kgo.Record is about 170 bytes, a third of what
// the runtime allocates per record of a small-record sink). Nothing the
// runtime or a task keeps refers to a kgo.Record: converted records, dead
// letter copies (rawRecord) and rewinds take the fields they need. Only the
// Record structs are pooled, not the bytes (no kgo.PoolDecompressBytes): a
// record's Key, Value and Headers stay the fetch's own, so converters, tasks
// and dead letter copies may keep them past Recycle.
var fetchedRecords = &recordPool{}

// recordPool keeps record slabs of any size; franz-go asks for one per
// fetched record batch.
type recordPool struct{ p sync.Pool }

var _ kgo.PoolRecords = (*recordPool)(nil)

// GetRecords returns a slab of capacity at least n.
func (rp *recordPool) GetRecords(n int) []kgo.Record {
	if s, ok := rp.p.Get().(*[]kgo.Record); ok && cap(*s) >= n {
		return (*s)[:0]
	}
	return make([]kgo.Record, 0, n)
}

// PutRecords takes back a slab whose records were all recycled (and zeroed).
func (rp *recordPool) PutRecords(s []kgo.Record) { rp.p.Put(&s) }

// interleave returns a poll's records in an order that gives each Put of
// max.poll.records a share of every partition. A poll's records come
// grouped by partition, and a sink that queues each partition's records
// apart (the HTTP sink's lanes) would otherwise get one partition's records
// Put after Put, and wait for that partition's queue while the others ran
// dry. The records of a partition keep their order, so the ones not yet put
// are still, per partition, the last ones (see giveBack), even should a
// poll hold a partition in two runs: franz-go does not today (it fetches a
// partition again only once its buffered fetch was taken) but does not
// promise it, and a partition's later run put first would lose the rest of
// the earlier one on a rewind. The order is written in s.mixBuf, reused
// from poll to poll (putAll clears its references when it returns).
func (s *sinkTask) interleave(recs []*kgo.Record) []*kgo.Record {
	var parts [][][]*kgo.Record // per partition, its runs in order
	at := map[connect.TopicPartition]int{}
	for i := 0; i < len(recs); {
		j := i + 1
		for j < len(recs) && recs[j].Partition == recs[i].Partition && recs[j].Topic == recs[i].Topic {
			j++
		}
		tp := connect.TopicPartition{Topic: recs[i].Topic, Partition: recs[i].Partition}
		if k, ok := at[tp]; ok {
			parts[k] = append(parts[k], recs[i:j])
		} else {
			at[tp] = len(parts)
			parts = append(parts, [][]*kgo.Record{recs[i:j]})
		}
		i = j
	}
	if len(parts) == 1 {
		return recs
	}
	out := s.mixBuf[:0]
	share := max(1, s.maxPut/len(parts))
	for len(parts) > 0 {
		live := parts[:0]
		for _, runs := range parts {
			for n := share; n > 0 && len(runs) > 0; {
				k := min(n, len(runs[0]))
				out = append(out, runs[0][:k]...)
				n -= k
				if runs[0] = runs[0][k:]; len(runs[0]) == 0 {
					runs = runs[1:]
				}
			}
			if len(runs) > 0 {
				live = append(live, runs)
			}
		}
		parts = live
	}
	s.mixBuf = out
	return out
}

// interrupted reports whether polled records must wait instead of being
// put: the task is stopping or failed, the connector is paused, or the task
// asked for a rewind or paused or resumed partitions.
func (s *sinkTask) interrupted(ctx context.Context) bool {
	if ctx.Err() != nil {
		return true
	}
	if paused, _ := s.r.pauseState(); paused {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.asyncErr != nil || len(s.rewinds) > 0 {
		return true
	}
	for tp := range s.assigned {
		if s.taskPaused[tp] != s.fetchPaused[tp] {
			return true
		}
	}
	return false
}

// giveBack rewinds each partition of recs to its first record there (unless
// the task asked for a rewind of its own), so they are fetched again.
func (s *sinkTask) giveBack(recs []*kgo.Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, kr := range recs {
		tp := connect.TopicPartition{Topic: kr.Topic, Partition: kr.Partition}
		if _, ok := s.rewinds[tp]; !ok && s.assigned[tp] {
			s.rewinds[tp] = kr.Offset
		}
	}
}

// recordPiece is how many records a sink that may keep them gets per
// allocation: 128 records of 144 bytes are an 18 KiB small object, where
// one slab of max.poll.records (500) was a 72 KiB large object, which costs
// more to allocate, zero and free: 500 records took 17 µs as one slab and
// 8-9 µs in pieces of 128 in a micro-benchmark at GOGC=400 (the bench/worker
// -sink-keeps figures are too noisy on a shared machine to show it).
const recordPiece = 128

// buffers returns, for n records, the reused slab (nil when the task may
// keep its records: see sinkTask.reuse and recordPiece) and empty batch and
// origins slices of that capacity. A reused slab is not zeroed: toConnect
// sets every field of a record.
func (s *sinkTask) buffers(n int) ([]connect.Record, []*connect.Record, []*kgo.Record) {
	if cap(s.originBuf) < n {
		s.originBuf = make([]*kgo.Record, 0, n)
	}
	s.bufUsed = true
	if !s.reuse {
		return nil, make([]*connect.Record, 0, n), s.originBuf[:0]
	}
	if cap(s.slab) < n {
		s.slab, s.batchBuf = make([]connect.Record, n), make([]*connect.Record, 0, n)
	}
	return s.slab[:n], s.batchBuf[:0], s.originBuf[:0]
}

// releaseBuffers drops the reused buffers' references to fetched records
// when the consumer is idle, so they do not keep the last fetch in memory.
// While records flow, each Put overwrites the previous one's instead.
func (s *sinkTask) releaseBuffers() {
	if s.bufUsed {
		clear(s.slab[:cap(s.slab)])
		clear(s.batchBuf[:cap(s.batchBuf)])
		clear(s.originBuf[:cap(s.originBuf)])
		s.bufUsed = false
	}
}

// process converts and transforms a polled batch and puts it.
func (s *sinkTask) process(ctx context.Context, recs []*kgo.Record) error {
	h := s.r.h
	slab, batch, origins := s.buffers(len(recs))
	var piece []connect.Record // slab nil: records allocated recordPiece at a time
	var next []partitionEnd    // records come in runs of a partition: a few per batch (more when interleave shared the Put out)
	for i, kr := range recs {
		tp := connect.TopicPartition{Topic: kr.Topic, Partition: kr.Partition}
		if n := len(next); n == 0 || next[n-1].tp != tp {
			if n == 0 || next[n-1].tp.Topic != tp.Topic {
				h.statuses.addTopic(s.r.id.Connector, s.r.id.Task, tp.Topic)
			}
			next = append(next, partitionEnd{tp: tp})
		}
		var rec *connect.Record
		if slab != nil {
			rec = &slab[i]
		} else {
			if len(piece) == 0 {
				piece = make([]connect.Record, min(recordPiece, len(recs)-i))
			}
			rec, piece = &piece[0], piece[1:]
		}
		rec, err := s.toConnect(ctx, kr, rec)
		if err != nil {
			return err
		}
		next[len(next)-1].next = kr.Offset + 1
		if rec != nil {
			batch = append(batch, rec)
			origins = append(origins, kr)
		}
	}
	s.mu.Lock()
	s.batch, s.origins = batch, origins
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.batch, s.origins = nil, nil
		s.mu.Unlock()
	}()
	if len(batch) > 0 {
		start := time.Now()
		for attempt := 1; ; attempt++ {
			err := s.task.Put(ctx, batch)
			if err == nil {
				break
			}
			if ctx.Err() != nil {
				return nil
			}
			if !isRetriable(err) {
				return fmt.Errorf("put: %w", err)
			}
			d := backoff(attempt, s.errs.policy.retryDelayMax)
			s.r.log.Warn("sink task put failed; retrying the same records", "err", err, "backoff", d)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(d):
			}
		}
		h.metrics.put.WithLabelValues(s.r.id.Connector).Add(float64(len(batch)))
		s.r.tm.put(len(batch), time.Since(start))
	}
	s.mu.Lock()
	for _, e := range next {
		if _, rewinding := s.rewinds[e.tp]; rewinding || !s.assigned[e.tp] {
			continue // the task asked to rewind: the position is the rewind's
		}
		s.current[e.tp] = e.next
	}
	s.mu.Unlock()
	return nil
}

// partitionEnd is the offset after the last record of a partition in a batch.
type partitionEnd struct {
	tp   connect.TopicPartition
	next int64
}

// toConnect deserializes kr into rec and transforms it. It returns nil when
// the record is dropped or skipped (errors.tolerance=all). Each stage is
// called directly; only a failed one goes through the retry policy, so a
// record that converts costs no closures.
func (s *sinkTask) toConnect(ctx context.Context, kr *kgo.Record, rec *connect.Record) (*connect.Record, error) {
	// Every field is set: rec may be a reused record of an earlier Put.
	*rec = connect.Record{Topic: kr.Topic, Partition: kr.Partition, Offset: kr.Offset, Timestamp: kr.Timestamp}
	var err error
	if rec.KeySchema, rec.Key, err = s.pl.keyRead(kr.Topic, kr.Key); err != nil {
		if err = s.errs.retryAfter(ctx, err, func() (e error) { rec.KeySchema, rec.Key, e = s.pl.keyRead(kr.Topic, kr.Key); return }); err != nil {
			return s.fail(ctx, kr, StageKeyConverter, s.pl.keyClass, err)
		}
	}
	if rec.ValueSchema, rec.Value, err = s.pl.valueRead(kr.Topic, kr.Value); err != nil {
		if err = s.errs.retryAfter(ctx, err, func() (e error) { rec.ValueSchema, rec.Value, e = s.pl.valueRead(kr.Topic, kr.Value); return }); err != nil {
			return s.fail(ctx, kr, StageValueConverter, s.pl.valueClass, err)
		}
	}
	if len(kr.Headers) > 0 {
		rec.Headers = make(connect.Headers, 0, len(kr.Headers))
	}
	for _, hd := range kr.Headers {
		hs, hv, err := s.pl.headerConv.ToConnectHeader(kr.Topic, hd.Key, hd.Value)
		if err != nil {
			if err = s.errs.retryAfter(ctx, err, func() (e error) { hs, hv, e = s.pl.headerConv.ToConnectHeader(kr.Topic, hd.Key, hd.Value); return }); err != nil {
				return s.fail(ctx, kr, StageHeaderConverter, s.pl.headerClass, err)
			}
		}
		rec.Headers.Add(hd.Key, hs, hv)
	}
	out, err := s.pl.transforms.Apply(rec)
	if err != nil {
		if err = s.errs.retryAfter(ctx, err, func() (e error) { out, e = s.pl.transforms.Apply(rec); return }); err != nil {
			return s.fail(ctx, kr, StageTransformation, transformClass(err), err)
		}
	}
	return out, nil
}

// fail routes a record's failure at stage: nil, nil when the record is
// skipped (errors.tolerance=all), else the error that fails the task.
func (s *sinkTask) fail(ctx context.Context, kr *kgo.Record, stage, class string, err error) (*connect.Record, error) {
	if herr := s.errs.handle(ctx, stage, class, kafkaRaw(kr), err); herr != nil {
		return nil, herr
	}
	return nil, nil
}

// commit flushes the task up to the current offsets of partitions (or asks
// PreCommit which are safe) and commits exactly those. On a flush failure
// the consumer goes back to the last committed offsets, so nothing the task
// may not have written is skipped.
func (s *sinkTask) commit(ctx context.Context, partitions []connect.TopicPartition) {
	h := s.r.h
	s.mu.Lock()
	offs := map[connect.TopicPartition]int64{}
	for _, tp := range partitions {
		if o, ok := s.current[tp]; ok && s.assigned[tp] {
			offs[tp] = o
		}
	}
	s.mu.Unlock()
	if len(offs) == 0 {
		s.r.tm.commitSkipped()
		return
	}
	start := time.Now()
	fctx, cancel := context.WithTimeout(ctx, h.cfg.OffsetFlushLimit)
	defer cancel()
	toCommit := offs
	var err error
	if pc, ok := s.task.(connect.SinkPreCommitter); ok {
		toCommit, err = pc.PreCommit(fctx, maps.Clone(offs))
	} else {
		err = s.task.Flush(fctx, maps.Clone(offs))
	}
	if err != nil {
		h.metrics.offsetFailures.WithLabelValues(s.r.id.Connector).Inc()
		s.r.tm.committed(start, err, true)
		s.r.log.Error("sink flush failed; rewinding to the last committed offsets", "err", err)
		s.rewindToCommitted(offs)
		return
	}
	req := map[string]map[int32]kgo.EpochOffset{}
	s.mu.Lock()
	for tp, o := range toCommit {
		if c, ok := s.committed[tp]; !s.assigned[tp] || (ok && o <= c) {
			continue
		}
		if req[tp.Topic] == nil {
			req[tp.Topic] = map[int32]kgo.EpochOffset{}
		}
		req[tp.Topic][tp.Partition] = kgo.EpochOffset{Epoch: -1, Offset: o}
	}
	s.mu.Unlock()
	if len(req) == 0 {
		s.r.tm.commitSkipped()
		return
	}
	var cerr error
	s.cl.CommitOffsetsSync(fctx, req, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			cerr = err
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if e := kerr.ErrorForCode(p.ErrorCode); e != nil && cerr == nil {
					cerr = fmt.Errorf("%s/%d: %w", t.Topic, p.Partition, e)
				}
			}
		}
	})
	s.r.tm.committed(start, cerr, true)
	if cerr != nil {
		h.metrics.offsetFailures.WithLabelValues(s.r.id.Connector).Inc()
		s.r.log.Warn("sink offset commit failed; the next commit covers these offsets", "err", cerr)
		return
	}
	s.mu.Lock()
	for t, ps := range req {
		for p, eo := range ps {
			s.committed[connect.TopicPartition{Topic: t, Partition: p}] = eo.Offset
		}
	}
	s.mu.Unlock()
	h.metrics.offsetCommits.WithLabelValues(s.r.id.Connector).Inc()
}

func (s *sinkTask) rewindToCommitted(offs map[connect.TopicPartition]int64) {
	committed := s.cl.CommittedOffsets()
	s.mu.Lock()
	defer s.mu.Unlock()
	for tp := range offs {
		if eo, ok := committed[tp.Topic][tp.Partition]; ok {
			s.rewinds[tp] = eo.Offset
		} else {
			s.r.log.Warn("no committed offset to rewind to; records may be put again from the reset position", "topic", tp.Topic, "partition", tp.Partition)
			s.rewinds[tp] = 0
		}
	}
}
