package blob

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"time"

	"gocloud.dev/blob"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
)

// Task is the object storage sink task. Each Kafka partition has at most
// one open set of objects (one per encoded partition); the set is closed
// and uploaded whole when a rotation rule says so, and PreCommit returns, per
// partition, the first offset not yet in an uploaded object. Open objects
// are never uploaded early (not on Flush, not on Stop): a restart reads
// their records again and cuts the same objects, so each record lands in
// exactly one object (see the package documentation for the settings that
// keep this).
type Task struct {
	mu       sync.Mutex
	s        *settings
	format   format
	bucket   *blob.Bucket
	tctx     connect.SinkTaskContext
	log      *slog.Logger
	wctx     context.Context // the writers' lifetime: until Stop
	stop     context.CancelFunc
	parts    map[connect.TopicPartition]*partWriter
	failures int   // consecutive failed uploads, for the backoff
	fatal    error // the failure after the last of s3.part.retries: Put returns it
	changes  *changeLog
}

var (
	_ connect.SinkTask             = (*Task)(nil)
	_ connect.SinkPreCommitter     = (*Task)(nil)
	_ connect.SinkPartitionHandler = (*Task)(nil)
)

var errStopped = errors.New("blob sink: the task is not started or already stopped")

// partWriter is the state of one Kafka partition.
type partWriter struct {
	tp       connect.TopicPartition
	files    map[string]*objectFile // by encoded partition
	order    []string               // encoded partitions in the order opened
	count    int                    // records in the open set; 0: no set open
	start    int64                  // offset of the open set's first record
	base     int64                  // time of the set's first record (rotate.interval.ms)
	encoded  string                 // encoded partition of the last record
	schema   *connect.Schema        // the open set's value schema
	deadline time.Time              // rotate.schedule.interval.ms: when the set is closed
	next     int64                  // offset after the last record seen; -1: none yet
	hold     int64                  // >= 0: a failed set's start, the most PreCommit may return
	skip     bool                   // rewound in this Put: skip the partition's other records
	last     *objectFile            // files[encoded]: the object the last record went to
}

// objectFile is one object being written.
type objectFile struct {
	key    string
	cancel context.CancelFunc
	w      *blob.Writer
	fw     fileWriter
	n      int         // records written
	meta   *metaWriter // store.kafka.keys/headers: the side object
}

// Start opens the bucket.
func (t *Task) Start(ctx context.Context, tctx connect.SinkTaskContext, props map[string]string) error {
	s, err := parseSettings(props)
	if err != nil {
		return fmt.Errorf("blob sink: %w", err)
	}
	f, err := newFormat(s)
	if err != nil {
		return fmt.Errorf("blob sink: %w", err)
	}
	b, err := openBucket(ctx, s)
	if err != nil {
		return fmt.Errorf("blob sink: %w", err)
	}
	t.s, t.format, t.bucket, t.tctx = s, f, b, tctx
	t.log = slog.Default().With("connector", tctx.ConnectorName(), "task", tctx.TaskID())
	t.wctx, t.stop = context.WithCancel(context.Background())
	t.parts = map[connect.TopicPartition]*partWriter{}
	if s.changeLog {
		t.changes = newChangeLog()
	}
	if why := s.exactlyOnce(); why != "" {
		t.log.Warn("blob sink: records may land in two objects after a crash", "why", why)
	}
	t.log.Info("blob sink task started", "format", s.format, "extension", f.extension())
	return nil
}

func (t *Task) part(tp connect.TopicPartition) *partWriter {
	pw := t.parts[tp]
	if pw == nil {
		pw = &partWriter{tp: tp, files: map[string]*objectFile{}, next: -1, hold: -1}
		t.parts[tp] = pw
	}
	return pw
}

// Put writes the records into their partitions' open objects, uploading
// the objects whose set a rotation rule closes. A record the format cannot
// hold is reported (dead letter queue, log, or a task failure per
// errors.tolerance). A failed upload discards the partition's open set,
// rewinds the partition to the set's first record and backs off: the objects
// are written again from Kafka, whole. Once s3.part.retries retries in a row
// have failed, Put returns the store's error, now and on every later call,
// which fails the task.
func (t *Task) Put(ctx context.Context, records []*connect.Record) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.s == nil {
		return errStopped
	}
	if t.fatal != nil {
		return t.fatal
	}
	for _, pw := range t.parts {
		pw.skip = false
	}
	now := time.Now()
	var pw *partWriter
	for _, rec := range records {
		if pw == nil || rec.Partition != pw.tp.Partition || rec.Topic != pw.tp.Topic { // a batch is mostly one partition's
			pw = t.part(connect.TopicPartition{Topic: rec.Topic, Partition: rec.Partition})
		}
		if pw.skip {
			continue
		}
		if pw.next >= 0 && rec.Offset < pw.next {
			// The runtime went back (a rewind to the committed offsets):
			// the open set is cut again from its records.
			pw.abort()
		}
		pw.next, pw.hold = rec.Offset+1, -1
		err := t.add(ctx, pw, rec, now)
		if err == nil {
			continue
		}
		if errors.Is(err, errRecord) {
			if rerr := t.tctx.Report(ctx, rec, err); rerr != nil {
				return rerr
			}
			continue
		}
		start := rec.Offset
		if pw.count > 0 {
			start = pw.start
		}
		t.failed(ctx, pw, start, err)
	}
	t.rotateScheduled(ctx, now)
	return t.fatal
}

// add writes one record, closing the open set first when the record
// starts a new one, and after it when flush.size is reached.
func (t *Task) add(ctx context.Context, pw *partWriter, rec *connect.Record, now time.Time) error {
	s := t.s
	if rec.Value == nil && s.nullValues != NullWrite {
		if s.nullValues == NullIgnore {
			return nil
		}
		return recordErr("%s has a null value (behavior.on.null.values=fail)", where(rec))
	}
	if t.changes != nil {
		var err error
		if rec, err = t.changes.row(rec); err != nil {
			return err
		}
	}
	if rec.ValueSchema == nil && rec.Value != nil && (s.format == "parquet" || s.format == "csv" || s.format == "avro") {
		// Checked before the schema comparison: a record no object can
		// hold must not close the open set.
		return recordErr("%s: %s needs values with a schema (a schemaless value has none to give the file its columns): use JsonFormat, or a converter with schemas", where(rec), s.format)
	}
	encoded, err := s.partitioner.encode(rec, now)
	if err != nil {
		return err
	}
	var ts int64
	if s.rotateInterval > 0 {
		if ts, err = s.partitioner.recordTime(rec, now); err != nil {
			return err
		}
	}
	if pw.count > 0 {
		rotate, projected, err := t.adopt(pw.schema, rec)
		if err != nil {
			return err
		}
		rec = projected
		if !rotate && s.rotateInterval > 0 {
			rotate = ts-pw.base >= s.rotateInterval || (s.partitioner.timeBased() && encoded != pw.encoded)
		}
		if rotate {
			if err := t.commit(pw); err != nil {
				return err
			}
		}
	}
	f := pw.last
	if f == nil || encoded != pw.encoded {
		f = pw.files[encoded]
	}
	if f == nil {
		if f, err = t.openFile(pw, encoded, rec); err != nil {
			return err
		}
	}
	pw.last = nil // set again below once the record is in
	if err := f.fw.write(rec); err != nil {
		if errors.Is(err, errRecord) && f.n == 0 {
			pw.drop(encoded) // the object would be named after a record it does not hold
		}
		return err
	}
	if f.meta != nil {
		if err := f.meta.write(rec); err != nil {
			return err
		}
	}
	f.n++
	if pw.count == 0 {
		pw.start, pw.base, pw.schema = rec.Offset, ts, rec.ValueSchema
		if s.rotateSchedule > 0 {
			iv := s.rotateSchedule.Milliseconds()
			pw.deadline = time.UnixMilli((now.UnixMilli()/iv + 1) * iv)
		}
	}
	pw.count++
	pw.encoded, pw.last = encoded, f
	if pw.count >= s.flushSize {
		return t.commit(pw)
	}
	return nil
}

// adopt decides, per schema.compatibility, whether rec (with the open set
// of schema cur) needs a new set, or is projected onto cur.
func (t *Task) adopt(cur *connect.Schema, rec *connect.Record) (rotate bool, out *connect.Record, err error) {
	rs := rec.ValueSchema
	if rs == cur || connect.Equal(rs, cur) {
		return false, rec, nil
	}
	if rec.Value == nil || rs == nil || cur == nil || t.s.compat == CompatNone || rs.Version == cur.Version {
		return true, rec, nil
	}
	newer := rs.Version > cur.Version
	if newer == (t.s.compat != CompatForward) {
		return true, rec, nil // BACKWARD, FULL: a newer schema opens a new set; FORWARD: an older one
	}
	v, err := project(rec.Value, rs, cur)
	if err != nil {
		return false, rec, recordErr("%s: projecting its value of schema version %d onto the open objects' version %d (schema.compatibility=%s): %v",
			where(rec), rs.Version, cur.Version, t.s.compat, err)
	}
	c := rec.Clone()
	c.ValueSchema, c.Value = cur, v
	return false, c, nil
}

// project converts v of schema from into schema to, as Confluent's schema
// projector does: struct fields by name, missing ones from to's defaults.
func project(v any, from, to *connect.Schema) (any, error) {
	if v == nil {
		if to.Optional || to.Default != nil {
			return to.Default, nil
		}
		return nil, fmt.Errorf("null for a required %s", to.String())
	}
	if from.Type != to.Type || from.Name != to.Name {
		return nil, fmt.Errorf("%s cannot become %s", from.String(), to.String())
	}
	switch to.Type {
	case connect.TypeStruct:
		st, ok := v.(*connect.Struct)
		if !ok {
			return nil, fmt.Errorf("a struct is not a %T", v)
		}
		out := connect.NewStruct(to)
		for i, f := range to.Fields {
			ff, ok := from.Field(f.Name)
			var fv any
			var err error
			if ok {
				fv, err = project(st.GetAt(ff.Index), ff.Schema, f.Schema)
			} else if f.Schema.Optional || f.Schema.Default != nil {
				fv = f.Schema.Default
			} else {
				err = fmt.Errorf("has no default")
			}
			if err != nil {
				return nil, fmt.Errorf("field %q: %w", f.Name, err)
			}
			out.SetAt(i, fv)
		}
		return out, nil
	case connect.TypeArray, connect.TypeMap:
		if !connect.Equal(from.Value, to.Value) || !connect.Equal(from.Key, to.Key) {
			return nil, fmt.Errorf("%s cannot become %s", from.String(), to.String())
		}
	}
	return v, nil
}

// objectKey names an object as Confluent does:
// <topics.dir>/<topic>/<encodedPartition>/<topic>+<kafkaPartition>+<startOffset>.<ext>.
func (t *Task) objectKey(tp connect.TopicPartition, encoded string, start int64) string {
	s := t.s
	var b strings.Builder
	if s.topicsDir != "" {
		b.WriteString(s.topicsDir)
		b.WriteString(s.dirDelim)
	}
	b.WriteString(tp.Topic)
	b.WriteString(s.dirDelim)
	b.WriteString(encoded)
	b.WriteString(s.dirDelim)
	b.WriteString(tp.Topic)
	b.WriteString(s.fileDelim)
	b.WriteString(strconv.Itoa(int(tp.Partition)))
	b.WriteString(s.fileDelim)
	off := strconv.FormatInt(start, 10)
	for i := len(off); i < s.zeroPad; i++ {
		b.WriteByte('0')
	}
	b.WriteString(off)
	b.WriteString(t.format.extension())
	return b.String()
}

// openFile starts the object of an encoded partition, named after rec.
func (t *Task) openFile(pw *partWriter, encoded string, rec *connect.Record) (*objectFile, error) {
	key := t.objectKey(pw.tp, encoded, rec.Offset)
	ctx, cancel := context.WithCancel(t.wctx)
	w, err := t.bucket.NewWriter(ctx, key, &blob.WriterOptions{BufferSize: t.s.partSize, MaxConcurrency: 1})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("starting object %s: %w", key, err)
	}
	fw, err := t.format.open(w, rec.ValueSchema)
	if err != nil {
		cancel()
		_ = w.Close()
		if errors.Is(err, errRecord) {
			return nil, fmt.Errorf("%s: %w", where(rec), err)
		}
		return nil, fmt.Errorf("starting object %s: %w", key, err)
	}
	f := &objectFile{key: key, cancel: cancel, w: w, fw: fw}
	if t.s.storeKeys || t.s.storeHeaders {
		mkey := strings.TrimSuffix(key, t.format.extension()) + metaExtension
		mw, err := t.bucket.NewWriter(ctx, mkey, &blob.WriterOptions{BufferSize: t.s.partSize, MaxConcurrency: 1})
		if err != nil {
			cancel()
			_ = w.Close()
			return nil, fmt.Errorf("starting object %s: %w", mkey, err)
		}
		f.meta = newMetaWriter(mw, t.s.storeKeys, t.s.storeHeaders)
	}
	pw.files[encoded] = f
	pw.order = append(pw.order, encoded)
	return f, nil
}

// commit finishes and uploads every object of the partition's open set.
// On error the set is left for the caller to discard.
func (t *Task) commit(pw *partWriter) error {
	for _, enc := range pw.order {
		f := pw.files[enc]
		if f == nil || f.w == nil {
			continue
		}
		if f.meta != nil { // first, so a visible data object always has its side object
			if err := f.meta.close(); err != nil {
				return fmt.Errorf("uploading the side object of %s: %w", f.key, err)
			}
		}
		if err := f.fw.close(); err != nil {
			return fmt.Errorf("finishing object %s: %w", f.key, err)
		}
		err := f.w.Close() // the object becomes visible whole, or not at all
		f.w = nil
		f.cancel()
		if err != nil {
			return fmt.Errorf("uploading object %s: %w", f.key, err)
		}
		t.log.Debug("blob sink: uploaded", "object", f.key, "records", f.n)
	}
	pw.reset()
	t.failures = 0
	return nil
}

// failed handles a failed upload: the partition's open set is discarded,
// the partition rewound to the set's first record, and the task backs off
// before reading it again; after s3.part.retries retries in a row it sets
// t.fatal, which fails the task with the store's error in its status.
func (t *Task) failed(ctx context.Context, pw *partWriter, start int64, err error) {
	pw.abort()
	pw.next, pw.hold, pw.skip = start, start, true
	t.tctx.Rewind(map[connect.TopicPartition]int64{pw.tp: start})
	if t.fatal != nil {
		return // the task is failing: no retry to announce or wait for
	}
	t.failures++
	if r := t.s.partRetries; r >= 0 && t.failures > r {
		t.fatal = fmt.Errorf("blob sink: writing %s partition %d from offset %d to the store failed %d times in a row (%s=%d): %w",
			pw.tp.Topic, pw.tp.Partition, start, t.failures, PartRetriesConfig, r, err)
		return
	}
	d := backoff(t.s.retryBackoff, t.failures)
	t.log.Warn("blob sink: writing to the store failed; the objects will be written again from their first record",
		"topic", pw.tp.Topic, "partition", pw.tp.Partition, "offset", start, "attempt", t.failures, "backoff", d, "error", err)
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// backoff doubles first with each attempt up to a minute, with jitter.
func backoff(first time.Duration, attempt int) time.Duration {
	d := first
	for i := 1; i < attempt && d < time.Minute; i++ {
		d *= 2
	}
	d = min(d, time.Minute)
	return d/2 + rand.N(d/2+1)
}

// rotateScheduled closes the sets whose rotate.schedule.interval.ms deadline passed.
func (t *Task) rotateScheduled(ctx context.Context, now time.Time) {
	if t.s.rotateSchedule <= 0 {
		return
	}
	for _, pw := range t.parts {
		if pw.count > 0 && !now.Before(pw.deadline) {
			if err := t.commit(pw); err != nil {
				t.failed(ctx, pw, pw.start, err)
			}
		}
	}
}

// drop discards the object of one encoded partition.
func (pw *partWriter) drop(encoded string) {
	f := pw.files[encoded]
	if f == nil {
		return
	}
	f.abort()
	delete(pw.files, encoded)
	pw.last = nil
	for i, e := range pw.order {
		if e == encoded {
			pw.order = append(pw.order[:i], pw.order[i+1:]...)
			break
		}
	}
}

func (f *objectFile) abort() {
	f.cancel() // a cancelled writer never creates its object
	if a, ok := f.fw.(aborter); ok {
		a.abort()
	}
	if f.meta != nil {
		f.meta.abort()
	}
	if f.w != nil {
		_ = f.w.Close()
		f.w = nil
	}
}

// abort discards the open set without uploading it.
func (pw *partWriter) abort() {
	for _, f := range pw.files {
		f.abort()
	}
	pw.reset()
}

func (pw *partWriter) reset() {
	clear(pw.files)
	pw.order = pw.order[:0]
	pw.count, pw.schema, pw.encoded, pw.last = 0, nil, "", nil
}

// Flush does nothing: objects are uploaded when a rotation rule closes them,
// and PreCommit says which offsets that covers. Uploading a partial object
// here would cut objects differently after a restart.
func (t *Task) Flush(context.Context, map[connect.TopicPartition]int64) error { return nil }

// PreCommit closes the sets whose rotate.schedule.interval.ms passed and
// returns, per partition, the first offset not in an uploaded object (or
// skipped): the open set's first record, or the given offset when none is
// open.
func (t *Task) PreCommit(ctx context.Context, offsets map[connect.TopicPartition]int64) (map[connect.TopicPartition]int64, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.s == nil {
		return nil, errStopped
	}
	t.rotateScheduled(ctx, time.Now())
	out := make(map[connect.TopicPartition]int64, len(offsets))
	for tp, off := range offsets {
		pw := t.parts[tp]
		switch {
		case pw == nil:
			out[tp] = off
		case pw.count > 0:
			out[tp] = min(off, pw.start)
		case pw.hold >= 0:
			out[tp] = min(off, pw.hold)
		default:
			out[tp] = off
		}
	}
	return out, nil
}

// Open starts the partitions afresh.
func (t *Task) Open(_ context.Context, partitions []connect.TopicPartition) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, tp := range partitions {
		if pw := t.parts[tp]; pw != nil {
			pw.abort()
			delete(t.parts, tp)
		}
	}
	return nil
}

// Close discards the open objects of partitions taken from the task: their
// new owner writes them from the committed offsets.
func (t *Task) Close(ctx context.Context, partitions []connect.TopicPartition) error {
	return t.Open(ctx, partitions)
}

// Stop discards every open object and closes the bucket.
func (t *Task) Stop() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.s == nil {
		return nil
	}
	for _, pw := range t.parts {
		pw.abort()
	}
	t.stop()
	err := t.bucket.Close()
	t.s = nil
	return err
}

// Connector is the object storage sink connector: it checks the
// configuration and gives every task the same one (Kafka assigns the topic
// partitions among the tasks).
type Connector struct {
	props map[string]string
}

var (
	_ connect.SinkConnector   = (*Connector)(nil)
	_ connect.ConfigValidator = (*Connector)(nil)
)

// Config returns the keys the connector accepts.
func (c *Connector) Config() *config.Def { return ConfigDef() }

// ValidateConfig adds the problems that involve several keys to infos.
func (c *Connector) ValidateConfig(props map[string]string, infos *config.Infos) {
	v, err := ConfigDef().Parse(props)
	if err != nil {
		return // each key's own errors are already in infos
	}
	_, problems := fromValues(v)
	addProblems(infos, problems)
}

// Start checks the configuration.
func (c *Connector) Start(_ context.Context, _ connect.ConnectorContext, props map[string]string) error {
	if _, err := parseSettings(props); err != nil {
		return fmt.Errorf("blob sink: %w", err)
	}
	c.props = props
	return nil
}

// TaskConfigs returns maxTasks copies of the connector's configuration.
func (c *Connector) TaskConfigs(maxTasks int) ([]map[string]string, error) {
	out := make([]map[string]string, maxTasks)
	for i := range out {
		m := make(map[string]string, len(c.props))
		for k, v := range c.props {
			m[k] = v
		}
		out[i] = m
	}
	return out, nil
}

// Stop does nothing: the connector holds no resources.
func (c *Connector) Stop() error { return nil }

// NewTask returns a new task.
func (c *Connector) NewTask() connect.SinkTask { return &Task{} }

// Class names of Confluent's object storage sinks: each is an alias of this
// connector, so their configurations run unchanged.
const (
	S3SinkClass    = "io.confluent.connect.s3.S3SinkConnector"
	GCSSinkClass   = "io.confluent.connect.gcs.GcsSinkConnector"
	AzureSinkClass = "io.confluent.connect.azure.blob.AzureBlobStorageSinkConnector"
)

// Version is the connector's version as /connector-plugins reports it.
const Version = "0.1.0"
