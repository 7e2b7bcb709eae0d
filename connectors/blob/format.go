package blob

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/klauspost/compress/gzip" // compress/gzip's format, at 2-3x its speed
	"github.com/klauspost/compress/zstd"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/converters"
)

// format writes records into one object's bytes.
type format interface {
	// extension is the object name's suffix, e.g. ".json.gz".
	extension() string
	// open starts an object whose records have value schema s (nil:
	// schemaless) on w.
	open(w io.Writer, s *connect.Schema) (fileWriter, error)
}

// fileWriter writes the records of one object.
type fileWriter interface {
	// write adds a record. An error wrapping errRecord means the record
	// cannot be held and nothing of it was written; any other error is the
	// store's or the encoder's, and the object is lost.
	write(rec *connect.Record) error
	// close writes what the format keeps (a footer, a last block) and
	// flushes, without closing the object.
	close() error
}

// aborter is implemented by file writers that must be stopped before their
// object is discarded: a goroutine of theirs writes to it.
type aborter interface {
	abort()
}

// newFormat returns the format the settings name.
func newFormat(s *settings) (format, error) {
	switch s.format {
	case "json":
		return compressed{inner: &jsonFormat{numeric: s.decimalNumeric, nulls: s.nullValues == NullWrite}, codec: s.compression}, nil
	case "bytearray":
		return compressed{inner: bytesFormat{ext: s.bytesExt, nulls: s.nullValues == NullWrite}, codec: s.compression}, nil
	case "csv":
		return compressed{inner: csvFormat{numeric: s.decimalNumeric}, codec: s.compression}, nil
	case "parquet":
		return newParquetFormat(s.parquetCodec, s.rowGroupBytes)
	case "avro":
		return newAvroFormat(s.avroCodec)
	}
	return nil, fmt.Errorf("unknown format %q", s.format)
}

// compressed wraps a text format's output in gzip or zstd.
type compressed struct {
	inner format
	codec string // none, gzip, zstd
}

func (c compressed) extension() string {
	switch c.codec {
	case "gzip":
		return c.inner.extension() + ".gz"
	case "zstd":
		return c.inner.extension() + ".zst"
	}
	return c.inner.extension()
}

func (c compressed) open(w io.Writer, s *connect.Schema) (fileWriter, error) {
	var z io.WriteCloser
	switch c.codec {
	case "gzip":
		z = gzip.NewWriter(w)
	case "zstd":
		enc, err := zstd.NewWriter(w, zstd.WithEncoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		z = enc
	default:
		return c.inner.open(w, s)
	}
	fw, err := c.inner.open(z, s)
	if err != nil {
		return nil, err
	}
	return &compressedWriter{fileWriter: fw, z: z}, nil
}

type compressedWriter struct {
	fileWriter
	z io.WriteCloser
}

func (c *compressedWriter) close() error {
	if err := c.fileWriter.close(); err != nil {
		return err
	}
	return c.z.Close()
}

// lineWriter buffers a text format's lines.
type lineWriter struct {
	bw  *bufio.Writer
	buf []byte
}

func newLineWriter(w io.Writer) lineWriter { return lineWriter{bw: bufio.NewWriterSize(w, 64<<10)} }

func (l *lineWriter) line(b []byte) error {
	if _, err := l.bw.Write(b); err != nil {
		return err
	}
	return l.bw.WriteByte('\n')
}

// jsonFormat is Confluent's JsonFormat: one value per line, as Kafka
// Connect's JsonConverter writes it without schemas.
type jsonFormat struct {
	numeric bool
	nulls   bool
}

func (f *jsonFormat) extension() string { return ".json" }

func (f *jsonFormat) open(w io.Writer, _ *connect.Schema) (fileWriter, error) {
	c := converters.NewJSON()
	props := map[string]string{converters.JSONSchemasEnable: "false"}
	if f.numeric {
		props[converters.JSONDecimalFormat] = converters.DecimalNumeric
	}
	if err := c.Configure(props, false); err != nil {
		return nil, err
	}
	return &jsonWriter{lineWriter: newLineWriter(w), conv: c, nulls: f.nulls}, nil
}

type jsonWriter struct {
	lineWriter
	conv  *converters.JSON
	nulls bool
}

func (w *jsonWriter) write(rec *connect.Record) error {
	if rec.Value == nil && w.nulls {
		return w.line([]byte("null"))
	}
	var err error
	w.buf, err = w.conv.AppendConnect(w.buf[:0], rec.ValueSchema, rec.Value)
	if err != nil {
		return recordErr("%s: %v", where(rec), err)
	}
	return w.line(w.buf)
}

func (w *jsonWriter) close() error { return w.bw.Flush() }

// bytesFormat is Confluent's ByteArrayFormat: each value's bytes and a
// line separator.
type bytesFormat struct {
	ext   string
	nulls bool
}

func (f bytesFormat) extension() string { return f.ext }

func (f bytesFormat) open(w io.Writer, _ *connect.Schema) (fileWriter, error) {
	return &bytesWriter{lineWriter: newLineWriter(w), nulls: f.nulls}, nil
}

type bytesWriter struct {
	lineWriter
	nulls bool
}

func (w *bytesWriter) write(rec *connect.Record) error {
	switch v := rec.Value.(type) {
	case []byte:
		return w.line(v)
	case string:
		return w.line([]byte(v))
	case nil:
		if w.nulls {
			return w.line(nil)
		}
	}
	return recordErr("%s: ByteArrayFormat writes bytes values (use value.converter=org.apache.kafka.connect.converters.ByteArrayConverter), not %T", where(rec), rec.Value)
}

func (w *bytesWriter) close() error { return w.bw.Flush() }

// csvFormat writes the fields of struct values as CSV with a header row;
// nested values are JSON, decimals as json.decimal.format says, times in
// RFC 3339 (dates as YYYY-MM-DD).
type csvFormat struct{ numeric bool }

func (csvFormat) extension() string { return ".csv" }

func (f csvFormat) open(w io.Writer, s *connect.Schema) (fileWriter, error) {
	if s == nil || s.Type != connect.TypeStruct {
		return nil, recordErr("CSV needs struct values with a schema, not %s", s.String())
	}
	c := converters.NewJSON()
	props := map[string]string{converters.JSONSchemasEnable: "false", converters.JSONDecimalFormat: converters.DecimalNumeric}
	if !f.numeric {
		props[converters.JSONDecimalFormat] = converters.DecimalBase64
	}
	if err := c.Configure(props, false); err != nil {
		return nil, err
	}
	cw := &csvWriter{w: csv.NewWriter(w), schema: s, conv: c}
	header := make([]string, len(s.Fields))
	for i, fl := range s.Fields {
		header[i] = fl.Name
	}
	cw.row = make([]string, len(s.Fields))
	return cw, cw.w.Write(header)
}

type csvWriter struct {
	w      *csv.Writer
	schema *connect.Schema
	conv   *converters.JSON
	row    []string
	buf    []byte
}

func (w *csvWriter) write(rec *connect.Record) error {
	st, ok := rec.Value.(*connect.Struct)
	if !ok {
		return recordErr("%s: CSV writes struct values, not %T", where(rec), rec.Value)
	}
	for i, f := range w.schema.Fields {
		v := st.GetAt(i)
		switch x := v.(type) {
		case nil:
			w.row[i] = ""
		case string:
			w.row[i] = x
		case time.Time:
			if f.Schema.Name == connect.DateName {
				w.row[i] = x.UTC().Format(time.DateOnly)
			} else if f.Schema.Name == connect.TimeName {
				w.row[i] = x.UTC().Format("15:04:05.000")
			} else {
				w.row[i] = x.UTC().Format(time.RFC3339Nano)
			}
		case bool:
			w.row[i] = strconv.FormatBool(x)
		default:
			var err error
			w.buf, err = w.conv.AppendConnect(w.buf[:0], f.Schema, v)
			if err != nil {
				return recordErr("%s: field %q: %v", where(rec), f.Name, err)
			}
			if len(w.buf) > 1 && w.buf[0] == '"' { // bytes as base64: unquote
				w.row[i] = string(w.buf[1 : len(w.buf)-1])
			} else {
				w.row[i] = string(w.buf)
			}
		}
	}
	return w.w.Write(w.row)
}

func (w *csvWriter) close() error {
	w.w.Flush()
	return w.w.Error()
}
