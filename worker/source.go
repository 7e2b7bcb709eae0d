package worker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/offsets"
	"github.com/penstockhq/penstock/worker/rest"
)

// sourceTask runs a SourceTask: poll, transform, convert, produce; each
// record's source offset is staged once the broker acknowledged it and
// every earlier record, and flushed every offset.flush.interval.ms.
type sourceTask struct {
	r         *taskRunner
	class     string
	task      connect.SourceTask
	pl        *pipeline
	errs      *errorHandler
	connProps map[string]string

	producer   *kgo.Client
	produceCtx context.Context
	writer     *offsets.TaskWriter
	topics     map[string]bool // topics seen (created when configured)
	lastTopic  string          // the topic of the previous record of this poll

	produced prometheus.Counter
	promise  func(*kgo.Record, error)      // s.onProduced, bound once
	recAcks  connect.SourceRecordCommitter // the task, when it hears of each record

	mu       sync.Mutex
	asyncErr error
}

// Offsets implements connect.SourceTaskContext.
func (s *sourceTask) Offsets() connect.OffsetReader { return s.r.h.offsets.Reader(s.r.id.Connector) }

// ConnectorName implements connect.TaskContext.
func (s *sourceTask) ConnectorName() string { return s.r.id.Connector }

// TaskID implements connect.TaskContext.
func (s *sourceTask) TaskID() int { return s.r.id.Task }

func (s *sourceTask) fail(err error) {
	s.mu.Lock()
	if s.asyncErr == nil {
		s.asyncErr = err
	}
	s.mu.Unlock()
}

func (s *sourceTask) failure() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.asyncErr
}

// sourcePartitioner sends a record to the partition its connector chose
// (Record.Partition >= 0) and otherwise partitions as Kafka's default
// partitioner does: murmur2 of the key, sticky for records without one.
type sourcePartitioner struct{ inner kgo.Partitioner }

func (p sourcePartitioner) ForTopic(t string) kgo.TopicPartitioner {
	return &sourceTopicPartitioner{inner: p.inner.ForTopic(t)}
}

type sourceTopicPartitioner struct{ inner kgo.TopicPartitioner }

func (p *sourceTopicPartitioner) RequiresConsistency(r *kgo.Record) bool {
	return r.Partition >= 0 || p.inner.RequiresConsistency(r)
}

func (p *sourceTopicPartitioner) Partition(r *kgo.Record, n int) int {
	if r.Partition >= 0 {
		return int(r.Partition)
	}
	return p.inner.Partition(r, n)
}

func (p *sourceTopicPartitioner) OnNewBatch() {
	if nb, ok := p.inner.(kgo.TopicPartitionerOnNewBatch); ok {
		nb.OnNewBatch()
	}
}

func (s *sourceTask) run(ctx context.Context, props map[string]string) error {
	h := s.r.h
	id := s.r.id
	s.writer = h.offsets.NewTaskWriter(id.Connector)
	s.produced = h.metrics.produced.WithLabelValues(id.Connector)
	s.topics = map[string]bool{}
	bufMem, err := clientInt(s.connProps, h.cfg.Props, "producer", "buffer.memory", defaultProducerBufferMemory)
	if err != nil {
		return err
	}
	linger, err := clientIntMin(s.connProps, h.cfg.Props, "producer", "linger.ms", defaultProducerLingerMs, 0)
	if err != nil {
		return err
	}
	base, err := h.roleOpts(roleProducer, s.connProps)
	if err != nil {
		return err
	}
	cl, err := kgo.NewClient(append(base,
		kgo.ClientID(fmt.Sprintf("connector-producer-%s-%d", id.Connector, id.Task)),
		kgo.RecordPartitioner(sourcePartitioner{kgo.StickyKeyPartitioner(nil)}),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.AllowAutoTopicCreation(),
		kgo.ProducerLinger(millis(linger)),
		kgo.MaxBufferedBytes(bufMem),
	)...)
	if err != nil {
		return fmt.Errorf("producer: %w", err)
	}
	s.producer = cl
	defer h.metrics.buffered.add(id, "producer", cl.BufferedProduceBytes)()
	s.promise = s.onProduced
	s.recAcks, _ = s.task.(connect.SourceRecordCommitter)
	// Records still buffered when the task stops get the graceful shutdown
	// time to be acknowledged; then they are abandoned (and their offsets
	// never flushed, so they are produced again after a restart).
	produceCtx, cancelProduce := context.WithCancel(context.Background())
	s.produceCtx = produceCtx
	go func() {
		<-ctx.Done()
		select {
		case <-time.After(h.cfg.TaskShutdownLimit):
		case <-produceCtx.Done():
		}
		cancelProduce()
	}()
	defer cancelProduce()
	defer cl.Close()

	if err := s.task.Start(ctx, s, props); err != nil {
		return fmt.Errorf("task %s-%d failed to start: %w", id.Connector, id.Task, err)
	}
	s.r.log.Info("source task started", "class", s.class)

	var flushWG sync.WaitGroup
	flushCtx, stopFlusher := context.WithCancel(ctx)
	flushWG.Add(1)
	go func() {
		defer flushWG.Done()
		tick := time.NewTicker(h.cfg.OffsetFlushEvery)
		defer tick.Stop()
		for {
			select {
			case <-flushCtx.Done():
				return
			case <-tick.C:
				s.flush(flushCtx)
			}
		}
	}()

	loopErr := s.loop(ctx)

	stopFlusher()
	flushWG.Wait()
	s.shutdown()
	if loopErr != nil && ctx.Err() != nil && !errors.Is(loopErr, errTolerance) {
		loopErr = nil // stopping, not failing
	}
	return loopErr
}

var errTolerance = errors.New("tolerance exceeded")

// defaultProducerBufferMemory is buffer.memory of source tasks' producers
// (Kafka: 32 MiB; franz-go: unbounded bytes, 50,000 records): the bytes of
// converted records waiting for the broker's acknowledgement. Poll waits
// when it is full, so a fast source slows down instead of filling memory.
// 8 MiB keeps several 1 MiB batches in flight, enough to keep a broker busy.
// Set producer.buffer.memory (worker) or producer.override.buffer.memory
// (connector) to change it; no record can be larger.
const defaultProducerBufferMemory = 8 << 20

// defaultProducerLingerMs is linger.ms of source tasks' producers, Kafka's
// default since 4.0: how long a batch waits for more records. Sources whose
// callers wait for the acknowledgement (the webhook source) answer sooner
// with producer.override.linger.ms=0, at some throughput.
const defaultProducerLingerMs = 5

// shutdown waits for in-flight records, flushes the offsets of every
// acknowledged one (then the task's Commit), and stops the task.
func (s *sourceTask) shutdown() {
	h := s.r.h
	wctx, cancel := context.WithTimeout(context.Background(), h.cfg.TaskShutdownLimit)
	if err := s.producer.Flush(wctx); err != nil {
		s.r.log.Warn("records still in flight at shutdown; their offsets are not flushed", "in_flight", s.writer.InFlight(), "err", err)
	} else if err := s.writer.WaitDrained(wctx); err != nil {
		s.r.log.Warn("records still unacknowledged at shutdown", "err", err)
	}
	cancel()
	s.flush(context.Background())
	if err := s.task.Stop(); err != nil {
		s.r.log.Warn("source task stop failed", "err", err)
	}
}

// flush writes the staged offsets and calls the task's Commit.
func (s *sourceTask) flush(ctx context.Context) {
	h := s.r.h
	fctx, cancel := context.WithTimeout(ctx, h.cfg.OffsetFlushLimit)
	defer cancel()
	start := time.Now()
	flushed, err := s.writer.Flush(fctx, s.task)
	if err != nil || len(flushed) > 0 {
		s.r.tm.committed(start, err, false)
	}
	if err != nil {
		h.metrics.offsetFailures.WithLabelValues(s.r.id.Connector).Inc()
		s.r.log.Error("offset flush failed; retrying at the next interval", "err", err)
		return
	}
	if len(flushed) > 0 {
		h.metrics.offsetCommits.WithLabelValues(s.r.id.Connector).Inc()
	}
}

func (s *sourceTask) loop(ctx context.Context) error {
	h := s.r.h
	polled := h.metrics.polled.WithLabelValues(s.r.id.Connector)
	for attempt := 0; ; {
		if ctx.Err() != nil {
			return nil
		}
		if err := s.failure(); err != nil {
			return err
		}
		if paused, ch := s.r.pauseState(); paused {
			s.r.setState(rest.StatePaused)
			select {
			case <-ctx.Done():
			case <-ch:
			}
			continue
		}
		s.r.setState(rest.StateRunning)
		pollStart := time.Now()
		recs, err := s.task.Poll(ctx)
		// Records returned with an error are sent first: the task has
		// moved past them, and would not return them again.
		if err == nil || len(recs) > 0 {
			polled.Add(float64(len(recs)))
			if err := s.sendPolled(ctx, recs, pollStart); err != nil {
				return err
			}
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if isRetriable(err) {
				attempt++
				d := backoff(attempt, s.errs.policy.retryDelayMax)
				s.r.log.Warn("source task poll failed; retrying", "err", err, "backoff", d)
				select {
				case <-ctx.Done():
				case <-time.After(d):
				}
				continue
			}
			return fmt.Errorf("poll: %w", err)
		}
		attempt = 0
	}
}

// sendPolled sends a poll's records.
func (s *sourceTask) sendPolled(ctx context.Context, recs []*connect.Record, pollStart time.Time) error {
	s.lastTopic = ""
	// One clock read and one allocation for the poll's records: a record
	// without a timestamp gets the time its poll returned (Kafka's
	// producer would stamp it at send, microseconds later).
	polledAt := time.Now()
	s.r.tm.polled(len(recs), polledAt.Sub(pollStart))
	slab := make([]inflight, len(recs))
	for i, rec := range recs {
		if err := s.send(ctx, rec, &slab[i], polledAt); err != nil {
			return err
		}
	}
	return nil
}

// stageFailed routes a failed stage through the error handler; nil means
// skip the record (and count it done), an error fails the task.
func (s *sourceTask) stageFailed(ctx context.Context, stage, class string, sub offsets.Ticket, rec *connect.Record, key, value []byte, err error) error {
	raw := &rawRecord{topic: rec.Topic, partition: -1, offset: -1, key: key, value: value}
	if key == nil || value == nil {
		k, v := renderSourceRecord(rec)
		if key == nil {
			raw.key = k
		}
		if value == nil {
			raw.value = v
		}
	}
	herr := s.errs.handle(ctx, stage, class, raw, err)
	s.r.tm.unwritten()
	s.commitRecord(rec, err)
	if herr != nil {
		return fmt.Errorf("%w: %w", errTolerance, herr)
	}
	s.writer.Ack(sub)
	return nil
}

// commitRecord tells a task that hears of each record what became of rec.
func (s *sourceTask) commitRecord(rec *connect.Record, err error) {
	if s.recAcks != nil {
		s.recAcks.CommitRecord(rec, err)
	}
}

// send transforms, converts and produces rec, tracked by in.
func (s *sourceTask) send(ctx context.Context, rec *connect.Record, in *inflight, polledAt time.Time) error {
	sub := s.writer.Submit(rec.SourcePartition, rec.SourceOffset)
	var out *connect.Record
	if err := s.errs.retry(ctx, func() (e error) { out, e = s.pl.transforms.Apply(rec); return }); err != nil {
		return s.stageFailed(ctx, StageTransformation, transformClass(err), sub, rec, nil, nil, err)
	}
	if out == nil { // dropped by a transform: its offset counts as done
		s.r.tm.unwritten()
		s.writer.Ack(sub)
		s.commitRecord(rec, nil)
		return nil
	}
	var key, value []byte
	if err := s.errs.retry(ctx, func() (e error) { key, e = s.pl.keyConv.FromConnect(out.Topic, out.KeySchema, out.Key); return }); err != nil {
		return s.stageFailed(ctx, StageKeyConverter, s.pl.keyClass, sub, out, nil, nil, err)
	}
	if err := s.errs.retry(ctx, func() (e error) { value, e = s.pl.valueConv.FromConnect(out.Topic, out.ValueSchema, out.Value); return }); err != nil {
		return s.stageFailed(ctx, StageValueConverter, s.pl.valueClass, sub, out, key, nil, err)
	}
	var headers []kgo.RecordHeader
	for _, hd := range out.Headers {
		var b []byte
		if err := s.errs.retry(ctx, func() (e error) {
			b, e = s.pl.headerConv.FromConnectHeader(out.Topic, hd.Key, hd.Schema, hd.Value)
			return
		}); err != nil {
			return s.stageFailed(ctx, StageHeaderConverter, s.pl.headerClass, sub, out, key, value, err)
		}
		headers = append(headers, kgo.RecordHeader{Key: hd.Key, Value: b})
	}
	if err := s.noteTopic(ctx, out.Topic); err != nil {
		// Not the record's fault: never tolerated as a record error.
		return err
	}
	in.Context, in.ticket = s.produceCtx, sub
	if s.recAcks != nil {
		// Only a task that hears of each record needs it until it is
		// acknowledged; otherwise the record (its Struct, offset map and
		// values, several times its converted bytes) goes now, so what a
		// task holds in flight is bounded by producer.buffer.memory.
		in.src = out
	}
	in.rec = kgo.Record{Topic: out.Topic, Partition: max(out.Partition, -1), Key: key, Value: value, Headers: headers,
		Timestamp: out.Timestamp, Context: in}
	if in.rec.Timestamp.IsZero() {
		in.rec.Timestamp = polledAt
	}
	s.producer.Produce(s.produceCtx, &in.rec, s.promise)
	return nil
}

// inflight is a produced record with its offset ticket. It is its record's
// Context (franz-go's place for per-record enrichment), delegating to the
// task's produce context, so one callback serves every record without a
// closure per record.
type inflight struct {
	context.Context
	rec    kgo.Record
	ticket offsets.Ticket
	src    *connect.Record // for a task's CommitRecord; nil for a task without one
}

// onProduced is the producer's callback: it acknowledges the record's
// offset, or routes the failure by the connector's errors.* settings.
func (s *sourceTask) onProduced(r *kgo.Record, err error) {
	in := r.Context.(*inflight)
	if err == nil {
		s.produced.Inc()
		s.r.tm.wrote(r)
		s.writer.Ack(in.ticket)
		s.commitRecord(in.src, nil)
		// The record lives on in its poll's slab until every record of the
		// poll is done: let its bytes go now.
		r.Key, r.Value, r.Headers = nil, nil, nil
		return
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, kgo.ErrClientClosed) {
		return // stopping: not acknowledged, so its offset is not flushed
	}
	herr := s.errs.handle(context.Background(), StageKafkaProduce, "producer",
		&rawRecord{topic: r.Topic, partition: -1, offset: -1, key: r.Key, value: r.Value, headers: r.Headers}, err)
	s.r.tm.unwritten()
	s.commitRecord(in.src, err)
	if herr != nil {
		s.fail(fmt.Errorf("%w: %w", errTolerance, herr))
		return
	}
	s.writer.Ack(in.ticket)
}

// noteTopic records a topic the connector writes to (its active topics,
// once per topic and poll) and creates it when the connector's
// topic.creation.default.* settings ask for that.
func (s *sourceTask) noteTopic(ctx context.Context, topic string) error {
	if topic == s.lastTopic {
		return nil
	}
	s.lastTopic = topic
	s.r.h.statuses.addTopic(s.r.id.Connector, s.r.id.Task, topic)
	if s.topics[topic] {
		return nil
	}
	h := s.r.h
	rf, hasRF := s.connProps[KeyTopicCreationDefRF]
	parts, hasParts := s.connProps[KeyTopicCreationDefPart]
	if h.cfg.TopicCreation && hasRF && hasParts {
		var p int32 = -1
		var r int16 = -1
		fmt.Sscan(parts, &p)
		fmt.Sscan(rf, &r)
		if err := s.createTopic(ctx, topic, p, r); err != nil {
			return err
		}
	}
	s.topics[topic] = true
	return nil
}

// createTopic creates topic, retrying with backoff until it exists, the
// broker refuses it for good (an error Kafka marks not retriable, such as a
// policy violation or a missing authorization: the task fails), or the task
// stops. A creation that failed must never cost the record its place in the
// topic, so it is not a record error for errors.tolerance.
func (s *sourceTask) createTopic(ctx context.Context, topic string, partitions int32, rf int16) error {
	for attempt := 1; ; attempt++ {
		resp, err := s.r.h.adm.CreateTopic(ctx, partitions, rf, nil, topic)
		if err == nil {
			err = resp.Err
		}
		if err == nil || errors.Is(err, kerr.TopicAlreadyExists) {
			return nil
		}
		var ke *kerr.Error
		if errors.As(err, &ke) && !ke.Retriable {
			return fmt.Errorf("creating topic %s: %w", topic, err)
		}
		d := backoff(attempt, max(s.errs.policy.retryDelayMax, time.Second))
		s.r.log.Warn("creating topic failed; retrying", "topic", topic, "attempt", attempt, "backoff", d, "err", err)
		select {
		case <-ctx.Done():
			return fmt.Errorf("creating topic %s: stopped while retrying: %w", topic, err)
		case <-time.After(d):
		}
	}
}
