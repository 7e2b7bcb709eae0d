// Package records encodes and decodes Kafka v2 record batches record by
// record. The broker's hot path never needs it (batches are stored as they
// arrive); it is for the broker's own writes (internal topics, transaction
// markers) and for the log cleaner, which rewrites compacted segments.
package records

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Attribute bits of a v2 record batch.
const (
	AttrCompressionMask = 0x07
	AttrTimestampType   = 0x08
	AttrTransactional   = 0x10
	AttrControl         = 0x20
)

const headerSize = 61

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt means a batch or record could not be decoded.
var ErrCorrupt = errors.New("records: corrupt batch")

// Header is a record header.
type Header struct {
	Key   string
	Value []byte
}

// Record is one decoded record with its absolute offset and timestamp.
type Record struct {
	Offset    int64
	Timestamp int64
	Key       []byte // nil is a null key
	Value     []byte // nil is a null value (a tombstone)
	Headers   []Header
}

// Batch describes a batch's header fields.
type Batch struct {
	BaseOffset           int64
	PartitionLeaderEpoch int32
	Attributes           int16
	LastOffsetDelta      int32
	BaseTimestamp        int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	NumRecords           int32
}

// IsControl reports the control attribute bit.
func (b *Batch) IsControl() bool { return b.Attributes&AttrControl != 0 }

// IsTransactional reports the transactional attribute bit.
func (b *Batch) IsTransactional() bool { return b.Attributes&AttrTransactional != 0 }

// LastOffset is the offset of the batch's last record slot.
func (b *Batch) LastOffset() int64 { return b.BaseOffset + int64(b.LastOffsetDelta) }

// Build encodes recs as one uncompressed v2 batch. The batch's base offset
// is b.BaseOffset; each record keeps its own Offset (so a rewritten batch
// keeps the offsets it had) and LastOffsetDelta, when larger than the last
// record's delta, keeps the batch's original last offset. Timestamps are
// taken from the records; the batch header's timestamp, producer and
// attribute fields come from b (compression bits are cleared).
func Build(b Batch, recs []Record) []byte {
	out := make([]byte, headerSize, headerSize+len(recs)*32)
	var maxTS int64 = -1
	baseTS := b.BaseTimestamp
	if len(recs) > 0 {
		baseTS = recs[0].Timestamp
		for _, r := range recs {
			baseTS = min(baseTS, r.Timestamp)
		}
	}
	lastDelta := b.LastOffsetDelta
	var rec []byte
	for _, r := range recs {
		rec = rec[:0]
		rec = append(rec, 0) // attributes
		rec = binary.AppendVarint(rec, r.Timestamp-baseTS)
		delta := r.Offset - b.BaseOffset
		rec = binary.AppendVarint(rec, delta)
		lastDelta = max(lastDelta, int32(delta))
		rec = appendBytes(rec, r.Key)
		rec = appendBytes(rec, r.Value)
		rec = binary.AppendVarint(rec, int64(len(r.Headers)))
		for _, h := range r.Headers {
			rec = binary.AppendVarint(rec, int64(len(h.Key)))
			rec = append(rec, h.Key...)
			rec = appendBytes(rec, h.Value)
		}
		out = binary.AppendVarint(out, int64(len(rec)))
		out = append(out, rec...)
		maxTS = max(maxTS, r.Timestamp)
	}
	if len(recs) == 0 {
		maxTS = b.MaxTimestamp
	}
	if b.MaxTimestamp > maxTS && b.Attributes&AttrTimestampType != 0 {
		maxTS = b.MaxTimestamp
	}
	be := binary.BigEndian
	be.PutUint64(out[0:], uint64(b.BaseOffset))
	be.PutUint32(out[8:], uint32(len(out)-12))
	be.PutUint32(out[12:], uint32(b.PartitionLeaderEpoch))
	out[16] = 2
	be.PutUint16(out[21:], uint16(b.Attributes&^AttrCompressionMask))
	be.PutUint32(out[23:], uint32(lastDelta))
	be.PutUint64(out[27:], uint64(baseTS))
	be.PutUint64(out[35:], uint64(maxTS))
	be.PutUint64(out[43:], uint64(b.ProducerID))
	be.PutUint16(out[51:], uint16(b.ProducerEpoch))
	be.PutUint32(out[53:], uint32(b.BaseSequence))
	be.PutUint32(out[57:], uint32(len(recs)))
	be.PutUint32(out[17:], crc32.Checksum(out[21:], castagnoli))
	return out
}

// Simple builds a batch of records with offsets 0..n-1 (for producing:
// the log assigns the real base offset), no producer id and timestamps ts.
func Simple(ts int64, kvs ...[2][]byte) []byte {
	recs := make([]Record, len(kvs))
	for i, kv := range kvs {
		recs[i] = Record{Offset: int64(i), Timestamp: ts, Key: kv[0], Value: kv[1]}
	}
	return Build(Batch{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, BaseTimestamp: ts, MaxTimestamp: ts}, recs)
}

func appendBytes(dst, b []byte) []byte {
	if b == nil {
		return binary.AppendVarint(dst, -1)
	}
	dst = binary.AppendVarint(dst, int64(len(b)))
	return append(dst, b...)
}

// ParseHeader decodes the header of the batch at the start of data.
func ParseHeader(data []byte) (Batch, int, error) {
	var b Batch
	if len(data) < headerSize {
		return b, 0, fmt.Errorf("%w: %d bytes", ErrCorrupt, len(data))
	}
	be := binary.BigEndian
	size := int(int32(be.Uint32(data[8:]))) + 12
	if size < headerSize || size > len(data) {
		return b, 0, fmt.Errorf("%w: batch length %d with %d bytes", ErrCorrupt, size, len(data))
	}
	b.BaseOffset = int64(be.Uint64(data[0:]))
	b.PartitionLeaderEpoch = int32(be.Uint32(data[12:]))
	b.Attributes = int16(be.Uint16(data[21:]))
	b.LastOffsetDelta = int32(be.Uint32(data[23:]))
	b.BaseTimestamp = int64(be.Uint64(data[27:]))
	b.MaxTimestamp = int64(be.Uint64(data[35:]))
	b.ProducerID = int64(be.Uint64(data[43:]))
	b.ProducerEpoch = int16(be.Uint16(data[51:]))
	b.BaseSequence = int32(be.Uint32(data[53:]))
	b.NumRecords = int32(be.Uint32(data[57:]))
	return b, size, nil
}

var defaultDecompressor = kgo.DefaultDecompressor()

// Decode decodes one whole batch (decompressing it if needed). Keys,
// values and header values alias the batch bytes or the decompressed
// buffer.
func Decode(data []byte) (Batch, []Record, error) {
	b, size, err := ParseHeader(data)
	if err != nil {
		return b, nil, err
	}
	body := data[headerSize:size]
	if c := b.Attributes & AttrCompressionMask; c != 0 {
		body, err = defaultDecompressor.Decompress(body, kgo.CompressionCodecType(c))
		if err != nil {
			return b, nil, fmt.Errorf("%w: decompress: %v", ErrCorrupt, err)
		}
		body = append([]byte(nil), body...)
	}
	n := int(b.NumRecords)
	if n < 0 || n > len(body) {
		return b, nil, fmt.Errorf("%w: %d records in %d bytes", ErrCorrupt, n, len(body))
	}
	recs := make([]Record, 0, n)
	for range n {
		length, k := binary.Varint(body)
		if k <= 0 || length < 0 || int64(len(body)-k) < length {
			return b, recs, fmt.Errorf("%w: record length", ErrCorrupt)
		}
		r, err := decodeRecord(body[k:k+int(length)], &b)
		if err != nil {
			return b, recs, err
		}
		recs = append(recs, r)
		body = body[k+int(length):]
	}
	return b, recs, nil
}

func decodeRecord(p []byte, b *Batch) (Record, error) {
	var r Record
	bad := fmt.Errorf("%w: record", ErrCorrupt)
	if len(p) < 1 {
		return r, bad
	}
	p = p[1:]
	tsd, k := binary.Varint(p)
	if k <= 0 {
		return r, bad
	}
	p = p[k:]
	od, k := binary.Varint(p)
	if k <= 0 {
		return r, bad
	}
	p = p[k:]
	r.Offset = b.BaseOffset + od
	r.Timestamp = b.BaseTimestamp + tsd
	if b.Attributes&AttrTimestampType != 0 {
		r.Timestamp = b.MaxTimestamp
	}
	var ok bool
	if r.Key, p, ok = readBytes(p); !ok {
		return r, bad
	}
	if r.Value, p, ok = readBytes(p); !ok {
		return r, bad
	}
	nh, k := binary.Varint(p)
	if k <= 0 || nh < 0 || nh > int64(len(p)) {
		return r, bad
	}
	p = p[k:]
	for range nh {
		var hk, hv []byte
		if hk, p, ok = readBytes(p); !ok {
			return r, bad
		}
		if hv, p, ok = readBytes(p); !ok {
			return r, bad
		}
		r.Headers = append(r.Headers, Header{Key: string(hk), Value: hv})
	}
	return r, nil
}

func readBytes(p []byte) ([]byte, []byte, bool) {
	n, k := binary.Varint(p)
	if k <= 0 {
		return nil, p, false
	}
	p = p[k:]
	if n < 0 {
		return nil, p, true
	}
	if int64(len(p)) < n {
		return nil, p, false
	}
	return p[:n:n], p[n:], true
}

// Split calls fn for each whole batch in data (a stored segment range),
// stopping at a trailing partial batch.
func Split(data []byte, fn func(batch []byte) error) error {
	for len(data) >= headerSize {
		size := int(int32(binary.BigEndian.Uint32(data[8:]))) + 12
		if size < headerSize {
			return fmt.Errorf("%w: batch length %d", ErrCorrupt, size)
		}
		if size > len(data) {
			return nil
		}
		if err := fn(data[:size]); err != nil {
			return err
		}
		data = data[size:]
	}
	return nil
}

// Control record types (the key of a control record).
const (
	ControlAbort  int16 = 0
	ControlCommit int16 = 1
)

// ControlBatch builds a transaction marker: a control batch holding one
// control record (key version 0 and type, value version 0 and the
// coordinator epoch), transactional, for the producer id and epoch.
func ControlBatch(producerID int64, epoch int16, commit bool, ts int64) []byte {
	typ := ControlAbort
	if commit {
		typ = ControlCommit
	}
	key := binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, 0), uint16(typ))
	val := binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint16(nil, 0), 0)
	return Build(Batch{
		Attributes:    AttrControl | AttrTransactional,
		ProducerID:    producerID,
		ProducerEpoch: epoch,
		BaseSequence:  -1,
		MaxTimestamp:  ts,
	}, []Record{{Offset: 0, Timestamp: ts, Key: key, Value: val}})
}

// ControlType returns the marker type of a control batch (ControlAbort or
// ControlCommit), or -1 if it cannot be read.
func ControlType(batch []byte) int16 {
	_, recs, err := Decode(batch)
	if err != nil || len(recs) == 0 || len(recs[0].Key) < 4 {
		return -1
	}
	return int16(binary.BigEndian.Uint16(recs[0].Key[2:]))
}
