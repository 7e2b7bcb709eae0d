// Package storage is the broker's on-disk event log: one Log per partition,
// each a directory of segment files named by base offset with a sparse offset
// index and a time index, group-committed fsyncs, recovery of torn tails on
// open, and retention by time and size.
//
// Batches are Kafka v2 record batches stored exactly as the producer sent them;
// the only bytes the log rewrites are the header's base offset and partition
// leader epoch (neither covered by the CRC) and, for LogAppendTime topics, the
// max timestamp and timestamp-type bit (after which the CRC is recomputed).
package storage

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
)

// Byte offsets of the fields of a v2 record batch header.
const (
	offBaseOffset      = 0
	offBatchLength     = 8
	offLeaderEpoch     = 12
	offMagic           = 16
	offCRC             = 17
	offAttributes      = 21
	offLastOffsetDelta = 23
	offBaseTimestamp   = 27
	offMaxTimestamp    = 35
	offProducerID      = 43
	offProducerEpoch   = 51
	offBaseSequence    = 53
	offRecordCount     = 57

	// BatchHeaderSize is the size of a v2 record batch header in bytes.
	BatchHeaderSize = 61
	// batchLengthOverhead is the number of header bytes before (and
	// including) the length field, which the length does not count.
	batchLengthOverhead = 12
)

// Attribute bits of a v2 record batch.
const (
	attrCompressionMask = 0x07
	attrTimestampType   = 0x08
	attrTransactional   = 0x10
	attrControl         = 0x20
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Errors returned by batch validation and appends. They map to Kafka error
// codes in the protocol server.
var (
	// ErrCorruptBatch means a batch failed its CRC or its header is
	// inconsistent (Kafka's CORRUPT_MESSAGE).
	ErrCorruptBatch = errors.New("corrupt record batch")
	// ErrInvalidRecord means a batch is well formed but not acceptable from
	// a producer, e.g. an old magic or a control batch (INVALID_RECORD).
	ErrInvalidRecord = errors.New("invalid record batch")
	// ErrBatchTooLarge means a batch is larger than max.message.bytes
	// (MESSAGE_TOO_LARGE).
	ErrBatchTooLarge = errors.New("record batch larger than max.message.bytes")
	// ErrOffsetOutOfRange means a read asked for an offset outside the log.
	ErrOffsetOutOfRange = errors.New("offset out of range")
	// ErrClosed means the log was closed (or its topic deleted).
	ErrClosed = errors.New("log closed")
	// ErrLogOffline means a write or fsync of the log failed and the log
	// was taken offline until a restart recovers it (KAFKA_STORAGE_ERROR).
	ErrLogOffline = errors.New("log offline after a storage error")
	// ErrNotSynced means records are not (yet) fsynced.
	ErrNotSynced = errors.New("records not fsynced")
)

// BatchHeader is the decoded fixed-size header of a v2 record batch. It is
// what append hooks (producer sequence checks, transactions) get to see; the
// records themselves are never decoded on the append path.
type BatchHeader struct {
	BaseOffset           int64
	Length               int32 // bytes after the length field
	PartitionLeaderEpoch int32
	Magic                int8
	CRC                  uint32
	Attributes           int16
	LastOffsetDelta      int32
	BaseTimestamp        int64
	MaxTimestamp         int64
	ProducerID           int64
	ProducerEpoch        int16
	BaseSequence         int32
	RecordCount          int32
}

// Size is the whole batch's size in bytes, header included.
func (h *BatchHeader) Size() int { return int(h.Length) + batchLengthOverhead }

// LastOffset is the offset of the batch's last record.
func (h *BatchHeader) LastOffset() int64 { return h.BaseOffset + int64(h.LastOffsetDelta) }

// Compression is the codec number from the attributes (0 none, 1 gzip,
// 2 snappy, 3 lz4, 4 zstd).
func (h *BatchHeader) Compression() int { return int(h.Attributes & attrCompressionMask) }

// IsControl reports whether this is a transaction control batch.
func (h *BatchHeader) IsControl() bool { return h.Attributes&attrControl != 0 }

// IsTransactional reports whether the batch belongs to a transaction.
func (h *BatchHeader) IsTransactional() bool { return h.Attributes&attrTransactional != 0 }

// ParseBatchHeader decodes the header at the start of b. It checks only that
// enough bytes are present for the header and that the length field is sane;
// it does not check the CRC or that the whole batch is present.
func ParseBatchHeader(b []byte) (BatchHeader, error) {
	var h BatchHeader
	if len(b) < BatchHeaderSize {
		return h, fmt.Errorf("%w: %d bytes is shorter than a batch header", ErrCorruptBatch, len(b))
	}
	be := binary.BigEndian
	h.BaseOffset = int64(be.Uint64(b[offBaseOffset:]))
	h.Length = int32(be.Uint32(b[offBatchLength:]))
	h.PartitionLeaderEpoch = int32(be.Uint32(b[offLeaderEpoch:]))
	h.Magic = int8(b[offMagic])
	h.CRC = be.Uint32(b[offCRC:])
	h.Attributes = int16(be.Uint16(b[offAttributes:]))
	h.LastOffsetDelta = int32(be.Uint32(b[offLastOffsetDelta:]))
	h.BaseTimestamp = int64(be.Uint64(b[offBaseTimestamp:]))
	h.MaxTimestamp = int64(be.Uint64(b[offMaxTimestamp:]))
	h.ProducerID = int64(be.Uint64(b[offProducerID:]))
	h.ProducerEpoch = int16(be.Uint16(b[offProducerEpoch:]))
	h.BaseSequence = int32(be.Uint32(b[offBaseSequence:]))
	h.RecordCount = int32(be.Uint32(b[offRecordCount:]))
	if h.Length < BatchHeaderSize-batchLengthOverhead {
		return h, fmt.Errorf("%w: batch length %d is shorter than a header", ErrCorruptBatch, h.Length)
	}
	return h, nil
}

// ValidateBatch checks one complete batch b (exactly one batch, nothing
// trailing): magic 2, length matching len(b), a correct CRC32C over the bytes
// from the attributes to the end, and a consistent record count.
func ValidateBatch(b []byte) (BatchHeader, error) {
	h, err := ParseBatchHeader(b)
	if err != nil {
		return h, err
	}
	if h.Size() != len(b) {
		return h, fmt.Errorf("%w: batch length %d does not match %d bytes", ErrCorruptBatch, h.Size(), len(b))
	}
	if h.Magic != 2 {
		return h, fmt.Errorf("%w: magic %d, only v2 batches are supported", ErrInvalidRecord, h.Magic)
	}
	if crc := crc32.Checksum(b[offAttributes:], castagnoli); crc != h.CRC {
		return h, fmt.Errorf("%w: crc %08x, computed %08x", ErrCorruptBatch, h.CRC, crc)
	}
	if h.LastOffsetDelta < 0 || h.RecordCount < 0 {
		return h, fmt.Errorf("%w: negative last offset delta %d or record count %d", ErrCorruptBatch, h.LastOffsetDelta, h.RecordCount)
	}
	if h.Compression() > 4 {
		return h, fmt.Errorf("%w: unknown compression codec %d", ErrInvalidRecord, h.Compression())
	}
	return h, nil
}

// SplitBatches validates a produce request's records field and calls fn for
// each batch in order. The data must consist of whole batches only.
func SplitBatches(data []byte, fn func(b []byte, h BatchHeader) error) error {
	if len(data) == 0 {
		return fmt.Errorf("%w: no record batch", ErrInvalidRecord)
	}
	for len(data) > 0 {
		if len(data) < BatchHeaderSize {
			return fmt.Errorf("%w: %d trailing bytes", ErrCorruptBatch, len(data))
		}
		n := int(int32(binary.BigEndian.Uint32(data[offBatchLength:]))) + batchLengthOverhead
		if n < BatchHeaderSize || n > len(data) {
			return fmt.Errorf("%w: batch length %d with %d bytes left", ErrCorruptBatch, n, len(data))
		}
		h, err := ValidateBatch(data[:n])
		if err != nil {
			return err
		}
		if err := fn(data[:n], h); err != nil {
			return err
		}
		data = data[n:]
	}
	return nil
}

// setBaseOffset rewrites the base offset and the partition leader epoch of a
// batch in place; neither is covered by the CRC.
func setBaseOffset(b []byte, base int64, epoch int32) {
	binary.BigEndian.PutUint64(b[offBaseOffset:], uint64(base))
	binary.BigEndian.PutUint32(b[offLeaderEpoch:], uint32(epoch))
}

// setLogAppendTime marks the batch as LogAppendTime with max timestamp ts and
// recomputes the CRC, as Kafka does for topics with
// message.timestamp.type=LogAppendTime.
func setLogAppendTime(b []byte, ts int64) {
	attrs := binary.BigEndian.Uint16(b[offAttributes:]) | attrTimestampType
	binary.BigEndian.PutUint16(b[offAttributes:], attrs)
	binary.BigEndian.PutUint64(b[offMaxTimestamp:], uint64(ts))
	binary.BigEndian.PutUint32(b[offCRC:], crc32.Checksum(b[offAttributes:], castagnoli))
}
