package blob

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/klauspost/compress/gzip" // compress/gzip's format, at 2-3x its speed
	"github.com/klauspost/compress/zstd"
	"gocloud.dev/blob"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
	"github.com/penstockhq/penstock/connect/converters"
)

// Source keys beyond the sink's store and layout keys.
const (
	PollIntervalConfig = "poll.interval.ms" // Penstock: how often the store is listed for new objects
	BatchSizeConfig    = "batch.max.records"
)

// sourceBinding declares the source's own keys and the settings field each
// fills.
var sourceBinding = config.Bind(
	config.ClassField(config.Key{Name: FormatConfig, Required: true, Importance: config.High, Group: groupFormat,
		Doc: "The format of the objects to restore: JsonFormat (values come back schemaless), ByteArrayFormat (values as bytes), ParquetFormat or AvroFormat (values with the Connect schemas the sink keeps in the files' metadata; Parquet objects of any parquet.codec, each spooled to a temporary file), by Confluent's class name or simple name."},
		func(s *settings) *string { return &s.rawFormat }),
	config.DurationField(config.Key{Name: PollIntervalConfig, Default: int64(10000), Validator: config.AtLeast(1), Importance: config.Low, Group: groupFormat,
		Doc: "Penstock extension. How often the store is listed again for objects written since, in milliseconds."},
		func(s *settings) *time.Duration { return &s.every }),
	config.IntField(config.Key{Name: BatchSizeConfig, Default: 500, Validator: config.AtLeast(1), Importance: config.Low, Group: groupFormat,
		Doc: "The most records a poll returns."},
		func(s *settings) *int { return &s.batch }),
)

// SourceConfigDef returns the definition of the keys the source accepts:
// the sink's store and layout keys, and the source's own.
func SourceConfigDef() *config.Def {
	sink := ConfigDef()
	var keys []config.Key
	for _, k := range sink.Keys() {
		if k.Group == groupStore || k.Name == TopicsDirConfig || k.Name == DirDelimConfig || k.Name == FileDelimConfig ||
			k.Name == BytesExtensionConfig {
			keys = append(keys, k)
		}
	}
	keys = append(keys, sourceBinding.Def().Keys()...)
	return config.NewDef(keys...)
}

// sourceSettings parses the source's properties.
func sourceSettings(props map[string]string) (*settings, error) {
	v, err := SourceConfigDef().Parse(props)
	if err != nil {
		return nil, err
	}
	s, problems := storeSettings(v)
	sourceBinding.Set(v, s)
	s.format = formats[simpleName(s.rawFormat)]
	if s.format != "json" && s.format != "bytearray" && s.format != "parquet" && s.format != "avro" {
		problems = append(problems, problem(FormatConfig, s.rawFormat, "the source restores JsonFormat, ByteArrayFormat, ParquetFormat and AvroFormat objects"))
	}
	if len(problems) > 0 {
		return nil, configError(problems)
	}
	return s, nil
}

// objectRef is a data object the source restores, known by its name.
type objectRef struct {
	key       string
	ext       string // the extension its name ends with
	topic     string
	partition int32
	start     int64
}

// SourceTask restores the objects the sink wrote (Confluent's S3 Source in
// backup-and-restore mode): per Kafka partition, the objects in the order
// of their start offsets, each record back into its topic and partition with
// its key, headers and timestamp (from the side objects that
// store.kafka.keys/headers made). Its offsets are the object's name and the
// records of it already produced, so a restart resumes where it was.
type SourceTask struct {
	s        *settings
	bucket   *blob.Bucket
	tctx     connect.SourceTaskContext
	log      *slog.Logger
	exts     []string // the data objects' extensions (Parquet: one per codec)
	every    time.Duration
	batch    int
	pending  []objectRef                               // to restore, in order
	done     map[connect.TopicPartition]int64          // start offset of the last object begun, per partition
	resume   map[connect.TopicPartition]map[string]any // committed offsets, read once per partition
	cur      *objectReader
	lastList time.Time
	keys     *converters.JSON
	values   connect.Converter
}

var _ connect.SourceTask = (*SourceTask)(nil)

// Start opens the bucket.
func (t *SourceTask) Start(ctx context.Context, tctx connect.SourceTaskContext, props map[string]string) error {
	s, err := sourceSettings(props)
	if err != nil {
		return fmt.Errorf("blob source: %w", err)
	}
	f, err := newFormat(&settings{format: s.format, bytesExt: s.bytesExt, compression: s.compression})
	if err != nil {
		return fmt.Errorf("blob source: %w", err)
	}
	if t.bucket, err = openBucket(ctx, s); err != nil {
		return fmt.Errorf("blob source: %w", err)
	}
	t.s, t.tctx, t.exts = s, tctx, []string{f.extension()}
	if s.format == "parquet" {
		t.exts = nil
		for _, c := range parquetCodecs {
			t.exts = append(t.exts, c.ext)
		}
	}
	t.every, t.batch = s.every, s.batch
	t.done = map[connect.TopicPartition]int64{}
	t.resume = map[connect.TopicPartition]map[string]any{}
	t.log = slog.Default().With("connector", tctx.ConnectorName(), "task", tctx.TaskID())
	t.keys = converters.NewJSON()
	if s.format == "json" {
		c := converters.NewJSON()
		if err := c.Configure(map[string]string{converters.JSONSchemasEnable: "false"}, false); err != nil {
			return err
		}
		t.values = c
	}
	return nil
}

// parseName reads topic, Kafka partition and start offset from an object
// name; ok is false for other objects (side objects, foreign files).
func (t *SourceTask) parseName(key string) (objectRef, bool) {
	if strings.HasSuffix(key, metaExtension) {
		return objectRef{}, false
	}
	ext := ""
	for _, e := range t.exts {
		if strings.HasSuffix(key, e) {
			ext = e
			break
		}
	}
	if ext == "" {
		return objectRef{}, false
	}
	name := key
	if i := strings.LastIndex(name, t.s.dirDelim); i >= 0 {
		name = name[i+len(t.s.dirDelim):]
	}
	parts := strings.Split(strings.TrimSuffix(name, ext), t.s.fileDelim)
	if len(parts) < 3 {
		return objectRef{}, false
	}
	start, err1 := strconv.ParseInt(parts[len(parts)-1], 10, 64)
	p, err2 := strconv.ParseInt(parts[len(parts)-2], 10, 32)
	if err1 != nil || err2 != nil {
		return objectRef{}, false
	}
	return objectRef{key: key, ext: ext, topic: strings.Join(parts[:len(parts)-2], t.s.fileDelim), partition: int32(p), start: start}, true
}

// list finds the objects not restored yet, in restore order.
func (t *SourceTask) list(ctx context.Context) error {
	prefix := ""
	if t.s.topicsDir != "" {
		prefix = t.s.topicsDir + t.s.dirDelim
	}
	var found []objectRef
	it := t.bucket.List(&blob.ListOptions{Prefix: prefix})
	for {
		obj, err := it.Next(ctx)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("listing %q: %w", prefix, err)
		}
		ref, ok := t.parseName(obj.Key)
		if !ok {
			continue
		}
		tp := connect.TopicPartition{Topic: ref.topic, Partition: ref.partition}
		if err := t.loadResume(ctx, tp); err != nil {
			return err
		}
		if last, ok := t.done[tp]; ok && ref.start <= last {
			continue
		}
		found = append(found, ref)
	}
	sort.Slice(found, func(i, j int) bool {
		a, b := found[i], found[j]
		if a.topic != b.topic {
			return a.topic < b.topic
		}
		if a.partition != b.partition {
			return a.partition < b.partition
		}
		return a.start < b.start
	})
	t.pending = found
	return nil
}

// loadResume reads a partition's committed offset once: the object in
// progress is queued again (restore skips its produced records), earlier
// ones are done.
func (t *SourceTask) loadResume(ctx context.Context, tp connect.TopicPartition) error {
	if _, ok := t.resume[tp]; ok {
		return nil
	}
	off, err := t.tctx.Offsets().Offset(ctx, sourcePartition(tp))
	if err != nil {
		return fmt.Errorf("reading the offset of %s-%d: %w", tp.Topic, tp.Partition, err)
	}
	t.resume[tp] = off
	if key, _ := off["object"].(string); key != "" {
		if ref, ok := t.parseName(key); ok {
			t.done[tp] = ref.start - 1 // the object itself is listed again
		}
	}
	return nil
}

func sourcePartition(tp connect.TopicPartition) map[string]any {
	return map[string]any{"topic": tp.Topic, "partition": int64(tp.Partition)}
}

// Poll returns the next records of the objects, listing the store again
// every poll.interval.ms once all are restored. It never returns records
// together with an error:
//   - a store error listing the store, opening an object or its side object,
//     or spooling a Parquet object is retriable, and retried in place: the
//     object stays pending, and records the poll read before are returned
//     without the error, which the next poll meets again;
//   - an object whose header does not decode (a store error reading an Avro
//     or gzip object's header included), or that ends before the record the
//     task resumes at (or fails to be read up to it), fails the task, once
//     the records read before it are returned in the same way;
//   - an error reading records inside an object (of the store or of the
//     format) fails the task at once, without the poll's records: the
//     object's reader is past them, the committed offsets are not, and the
//     restarted task resumes from those.
func (t *SourceTask) Poll(ctx context.Context) ([]*connect.Record, error) {
	var out []*connect.Record
	for len(out) < t.batch {
		if t.cur == nil {
			if len(t.pending) == 0 {
				if len(out) > 0 || time.Since(t.lastList) < t.every {
					if len(out) == 0 {
						select {
						case <-ctx.Done():
						case <-time.After(min(time.Second, t.every)):
						}
					}
					return out, nil
				}
				t.lastList = time.Now()
				if err := t.list(ctx); err != nil {
					return nil, connect.Retriable(err)
				}
				if len(t.pending) == 0 {
					continue
				}
			}
			ref := t.pending[0]
			r, err := t.begin(ctx, ref)
			if err != nil {
				if len(out) > 0 {
					return out, nil
				}
				return nil, err
			}
			t.pending = t.pending[1:]
			t.done[connect.TopicPartition{Topic: ref.topic, Partition: ref.partition}] = ref.start
			t.cur = r
		}
		rec, err := t.cur.next()
		if errors.Is(err, io.EOF) {
			t.cur.close()
			t.cur = nil
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, rec)
	}
	return out, nil
}

// begin opens an object and, where the task resumes inside it, passes over
// the records already produced.
func (t *SourceTask) begin(ctx context.Context, ref objectRef) (*objectReader, error) {
	r, err := t.open(ctx, ref)
	if err != nil {
		return nil, err
	}
	off := t.resume[connect.TopicPartition{Topic: ref.topic, Partition: ref.partition}]
	if off != nil && off["object"] == ref.key {
		n, _ := off["records"].(int64)
		if f, ok := off["records"].(float64); ok {
			n = int64(f)
		}
		if err := r.skip(n); err != nil {
			r.close()
			return nil, err
		}
	}
	return r, nil
}

// Stop closes the bucket.
func (t *SourceTask) Stop() error {
	if t.cur != nil {
		t.cur.close()
		t.cur = nil
	}
	if t.bucket != nil {
		err := t.bucket.Close()
		t.bucket = nil
		return err
	}
	return nil
}

// valueReader reads the values of a data object one record at a time,
// with their Connect schemas; io.EOF at its end.
type valueReader interface {
	next() (*connect.Schema, any, error)
	// skip passes over the next n values without building them (where the
	// format allows: past whole blocks or rows).
	skip(n int64) error
}

var (
	_ valueReader = (*parquetValues)(nil)
	_ valueReader = (*avroValues)(nil)
)

// objectReader reads one data object and its side object in step.
type objectReader struct {
	t       *SourceTask
	ref     objectRef
	data    *bufio.Reader // lines (JsonFormat, ByteArrayFormat)
	values  valueReader   // or values (ParquetFormat, AvroFormat)
	meta    *bufio.Reader
	closers []io.Closer
	n       int64 // records read
}

// open opens an object and its side object. The store's errors are
// retriable; an object whose header does not decode is not.
func (t *SourceTask) open(ctx context.Context, ref objectRef) (*objectReader, error) {
	r := &objectReader{t: t, ref: ref}
	br, err := t.bucket.NewReader(ctx, ref.key, nil)
	if err != nil {
		return nil, connect.Retriable(fmt.Errorf("reading %s: %w", ref.key, err))
	}
	r.closers = append(r.closers, br)
	switch t.s.format {
	case "avro":
		r.values, err = newAvroValues(br)
	case "parquet":
		f, n, serr := r.spool(br)
		if serr != nil {
			r.close()
			return nil, connect.Retriable(fmt.Errorf("reading %s: %w", ref.key, serr))
		}
		r.values, err = newParquetValues(f, n)
	default:
		err = r.openLines(br)
	}
	if err != nil {
		r.close()
		return nil, fmt.Errorf("reading %s: %w", ref.key, err)
	}
	mkey := strings.TrimSuffix(ref.key, ref.ext) + metaExtension
	ok, err := t.bucket.Exists(ctx, mkey)
	if err == nil && ok {
		var mr *blob.Reader
		if mr, err = t.bucket.NewReader(ctx, mkey, nil); err == nil {
			r.closers = append(r.closers, mr)
			r.meta = bufio.NewReaderSize(mr, 32<<10)
		}
	}
	if err != nil {
		r.close()
		return nil, connect.Retriable(fmt.Errorf("reading %s: %w", mkey, err))
	}
	return r, nil
}

// spool copies a Parquet object to a temporary file, so an object of any
// size is read in bounded memory (Parquet is read from its footer on), and
// returns the file and its size. The file is unlinked at once where the
// system allows, so nothing is left of it after a crash.
func (r *objectReader) spool(br io.Reader) (*os.File, int64, error) {
	f, err := os.CreateTemp("", "penstock-restore-*.parquet")
	if err != nil {
		return nil, 0, fmt.Errorf("spooling the object: %w", err)
	}
	unlinked := os.Remove(f.Name()) == nil
	r.closers = append(r.closers, closerFunc(func() error {
		err := f.Close()
		if !unlinked {
			_ = os.Remove(f.Name())
		}
		return err
	}))
	n, err := io.Copy(f, br)
	if err != nil {
		return nil, 0, fmt.Errorf("spooling the object to %s: %w", f.Name(), err)
	}
	return f, n, nil
}

// openLines reads the lines of a JsonFormat or ByteArrayFormat object,
// decompressed per the compression key.
func (r *objectReader) openLines(br io.Reader) error {
	var in io.Reader = br
	switch r.t.s.compression {
	case "gzip":
		z, err := gzip.NewReader(br)
		if err != nil {
			return err
		}
		in = z
	case "zstd":
		z, err := zstd.NewReader(br)
		if err != nil {
			return err
		}
		in = z
		r.closers = append(r.closers, closerFunc(func() error { z.Close(); return nil }))
	}
	r.data = bufio.NewReaderSize(in, 64<<10)
	return nil
}

type closerFunc func() error

func (f closerFunc) Close() error { return f() }

func (r *objectReader) close() {
	for _, c := range r.closers {
		_ = c.Close()
	}
	r.closers = nil
}

func readLine(b *bufio.Reader) ([]byte, error) {
	line, err := b.ReadBytes('\n')
	if len(line) > 0 && line[len(line)-1] == '\n' {
		return line[:len(line)-1], nil
	}
	if err == nil || (errors.Is(err, io.EOF) && len(line) > 0) {
		return line, nil
	}
	return nil, err
}

// skipLine passes over a line without copying it.
func skipLine(b *bufio.Reader) error {
	some := false
	for {
		line, err := b.ReadSlice('\n')
		switch {
		case err == nil:
			return nil
		case errors.Is(err, bufio.ErrBufferFull):
			some = true
		case errors.Is(err, io.EOF) && (some || len(line) > 0):
			return nil
		default:
			return err
		}
	}
}

// skip passes over the records up to the n-th, already produced, without
// building their values: it passes over lines, an Avro file's whole blocks
// and a Parquet file's rows.
func (r *objectReader) skip(n int64) error {
	if n <= r.n {
		return nil
	}
	if r.values != nil {
		if err := r.values.skip(n - r.n); err != nil {
			return fmt.Errorf("resuming %s at record %d: %w", r.ref.key, n, err)
		}
	}
	for i := r.n; i < n; i++ {
		if r.values == nil {
			if err := skipLine(r.data); err != nil {
				return fmt.Errorf("resuming %s at record %d: %w", r.ref.key, n, err)
			}
		}
		if r.meta != nil {
			if err := skipLine(r.meta); err != nil {
				return fmt.Errorf("resuming %s at record %d: its side object: %w", r.ref.key, n, err)
			}
		}
	}
	r.n = n
	return nil
}

// metaLine is one line of a side object.
type metaLine struct {
	O int64               `json:"o"`
	T *int64              `json:"t"`
	K json.RawMessage     `json:"k"`
	H [][]json.RawMessage `json:"h"`
}

// where names the record next reads, for its errors (formatted only when
// one is returned: next runs once per record).
func (r *objectReader) where() string {
	return fmt.Sprintf("object %s record %d", r.ref.key, r.n)
}

// next returns the object's next record, or io.EOF.
func (r *objectReader) next() (*connect.Record, error) {
	var line []byte
	var vs *connect.Schema
	var v any
	var err error
	if r.values != nil {
		vs, v, err = r.values.next()
	} else {
		line, err = readLine(r.data)
	}
	if err != nil {
		if !errors.Is(err, io.EOF) {
			err = fmt.Errorf("%s: %w", r.where(), err)
		}
		return nil, err
	}
	t := r.t
	rec := &connect.Record{Topic: r.ref.topic, Partition: r.ref.partition,
		SourcePartition: sourcePartition(connect.TopicPartition{Topic: r.ref.topic, Partition: r.ref.partition}),
		SourceOffset:    map[string]any{"object": r.ref.key, "records": r.n + 1}}
	switch {
	case r.values != nil:
		rec.ValueSchema, rec.Value = vs, v
	case t.values != nil:
		if rec.ValueSchema, rec.Value, err = t.values.ToConnect(r.ref.topic, line); err != nil {
			return nil, fmt.Errorf("%s: %w", r.where(), err)
		}
	default:
		rec.ValueSchema, rec.Value = connect.OptionalBytesSchema, append([]byte(nil), line...)
	}
	if r.meta != nil {
		raw, err := readLine(r.meta)
		if err != nil {
			return nil, fmt.Errorf("%s: its side object ends early: %w", r.where(), err)
		}
		var m metaLine
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("%s: side object: %w", r.where(), err)
		}
		if m.T != nil {
			rec.Timestamp = time.UnixMilli(*m.T)
		}
		if len(m.K) > 0 {
			if rec.KeySchema, rec.Key, err = t.keys.ToConnect(r.ref.topic, m.K); err != nil {
				return nil, fmt.Errorf("%s: key: %w", r.where(), err)
			}
		}
		for _, h := range m.H {
			var name string
			if len(h) != 2 || json.Unmarshal(h[0], &name) != nil {
				return nil, fmt.Errorf("%s: a header is not [name, value]", r.where())
			}
			hs, hv, err := t.keys.ToConnect(r.ref.topic, h[1])
			if err != nil {
				return nil, fmt.Errorf("%s: header %q: %w", r.where(), name, err)
			}
			rec.Headers.Add(name, hs, hv)
		}
	}
	r.n++
	return rec, nil
}

// SourceConnector restores exported objects into topics; it runs one task,
// which restores partitions one after another in order.
type SourceConnector struct {
	props map[string]string
}

var _ connect.SourceConnector = (*SourceConnector)(nil)

// Config returns the keys the source accepts.
func (c *SourceConnector) Config() *config.Def { return SourceConfigDef() }

// Start checks the configuration.
func (c *SourceConnector) Start(_ context.Context, _ connect.ConnectorContext, props map[string]string) error {
	if _, err := sourceSettings(props); err != nil {
		return fmt.Errorf("blob source: %w", err)
	}
	c.props = props
	return nil
}

// TaskConfigs returns one task's configuration: a partition's objects must
// be restored in order, by one task.
func (c *SourceConnector) TaskConfigs(int) ([]map[string]string, error) {
	m := make(map[string]string, len(c.props))
	for k, v := range c.props {
		m[k] = v
	}
	return []map[string]string{m}, nil
}

// Stop does nothing.
func (c *SourceConnector) Stop() error { return nil }

// NewTask returns a new task.
func (c *SourceConnector) NewTask() connect.SourceTask { return &SourceTask{} }

// S3SourceClass is the class name of Confluent's S3 Source, an alias of the
// source.
const S3SourceClass = "io.confluent.connect.s3.source.S3SourceConnector"
