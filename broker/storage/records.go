package storage

import (
	"encoding/binary"
)

// FirstRecordAtOrAfter returns the offset and timestamp of the first record
// in batch (a whole stored batch) whose timestamp is at least ts. Records of
// uncompressed batches are walked one by one; for compressed batches, which
// are never decompressed by the broker, the batch's base offset and max
// timestamp are returned (the batch is the first one reaching ts, so a
// consumer starting there sees every newer record).
func FirstRecordAtOrAfter(batch []byte, ts int64) (offset, timestamp int64) {
	h, err := ParseBatchHeader(batch)
	if err != nil || h.Size() > len(batch) {
		return -1, -1
	}
	if h.Attributes&attrTimestampType != 0 || h.Compression() != 0 {
		return h.BaseOffset, h.MaxTimestamp
	}
	recs := batch[BatchHeaderSize:h.Size()]
	for range h.RecordCount {
		length, n := binary.Varint(recs)
		if n <= 0 || length < 0 || int64(len(recs)-n) < length {
			break
		}
		rec := recs[n : n+int(length)]
		recs = recs[n+int(length):]
		if len(rec) < 1 {
			break
		}
		rec = rec[1:] // attributes
		tsDelta, n1 := binary.Varint(rec)
		if n1 <= 0 {
			break
		}
		offDelta, n2 := binary.Varint(rec[n1:])
		if n2 <= 0 {
			break
		}
		if rts := h.BaseTimestamp + tsDelta; rts >= ts {
			return h.BaseOffset + offDelta, rts
		}
	}
	return h.BaseOffset, h.MaxTimestamp
}
