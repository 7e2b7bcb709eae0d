package blob

import (
	"bufio"
	"fmt"
	"strconv"

	"gocloud.dev/blob"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/converters"
)

// metaExtension ends the name of a data object's side object.
const metaExtension = ".kafka.json"

// metaWriter writes the side object of a data object: per record, a JSON
// line {"o":offset,"t":timestamp ms,"k":key,"h":[[name,value],...]} with
// keys and header values as JsonConverter envelopes (with schemas), so the
// source restores them as they were.
type metaWriter struct {
	w             *blob.Writer
	bw            *bufio.Writer
	conv          *converters.JSON
	keys, headers bool
	buf           []byte
}

func newMetaWriter(w *blob.Writer, keys, headers bool) *metaWriter {
	return &metaWriter{w: w, bw: bufio.NewWriterSize(w, 32<<10), conv: converters.NewJSON(), keys: keys, headers: headers}
}

func (m *metaWriter) write(rec *connect.Record) error {
	b := append(m.buf[:0], `{"o":`...)
	b = strconv.AppendInt(b, rec.Offset, 10)
	if !rec.Timestamp.IsZero() {
		b = append(b, `,"t":`...)
		b = strconv.AppendInt(b, rec.Timestamp.UnixMilli(), 10)
	}
	var err error
	if m.keys {
		b = append(b, `,"k":`...)
		if b, err = m.conv.AppendConnect(b, rec.KeySchema, rec.Key); err != nil {
			return recordErr("%s: key: %v", where(rec), err)
		}
	}
	if m.headers && len(rec.Headers) > 0 {
		b = append(b, `,"h":[`...)
		for i, h := range rec.Headers {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(converters.AppendJSONString(append(b, '['), h.Key), ',')
			if b, err = m.conv.AppendConnect(b, h.Schema, h.Value); err != nil {
				return recordErr("%s: header %q: %v", where(rec), h.Key, err)
			}
			b = append(b, ']')
		}
		b = append(b, ']')
	}
	b = append(b, '}', '\n')
	m.buf = b
	if _, err := m.bw.Write(b); err != nil {
		return fmt.Errorf("side object: %w", err)
	}
	return nil
}

// close uploads the side object.
func (m *metaWriter) close() error {
	if m.w == nil {
		return nil
	}
	err := m.bw.Flush()
	if cerr := m.w.Close(); err == nil {
		err = cerr
	}
	m.w = nil
	return err
}

// abort closes the side object after its context was cancelled (the data
// object's cancel covers it), so it never becomes visible.
func (m *metaWriter) abort() {
	if m.w != nil {
		_ = m.w.Close()
		m.w = nil
	}
}
