package broker

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/penstockhq/penstock/broker/storage"
	"github.com/penstockhq/penstock/broker/txn"
)

func init() {
	// v4 is the first version that can return v2 record batches.
	register(int16(kmsg.Fetch), 4, 18, handleFetch)
}

// fetchPart is one partition of a fetch request, resolved.
type fetchPart struct {
	resp     *kmsg.FetchResponseTopicPartition
	log      *storage.Log
	offset   int64
	maxBytes int32
	txn      *txn.PartitionState // set for read_committed fetches
	rng      *storage.FileRange  // where the records are left in the segment file (zero-copy)
}

// zeroCopyOff disables zero-copy fetch responses (see SetZeroCopyFetch).
var zeroCopyOff atomic.Bool

// SetZeroCopyFetch turns zero-copy fetch responses on (the default) or off.
// With it on, the records of a fetch response are not read into memory:
// they are sent from the segment files to the connection (sendfile) between
// the encoded parts of the response. Off, they are read and the response is
// encoded whole with kmsg. It exists for benchmarks and tests comparing both.
func SetZeroCopyFetch(on bool) { zeroCopyOff.Store(!on) }

// fetchResponse is a FetchResponse whose records may still be in the
// segment files: ranges[i][j] holds them for Topics[i].Partitions[j] when
// its Len is not 0 (RecordBatches is then empty). The connection's writer
// sends it with writeFetch.
type fetchResponse struct {
	*kmsg.FetchResponse
	ranges [][]storage.FileRange
}

// handleFetch answers fetches without sessions: every request is a full
// fetch and the response carries session id 0, which KIP-227 defines as "no
// session created", so clients keep sending full requests. A request for an
// incremental session is refused with FETCH_SESSION_ID_NOT_FOUND.
//
// The data is read from the segment files (page cache) when the response is
// written; if fewer than MinBytes are available the response waits, up to
// MaxWaitMillis, for an append to any requested partition.
func handleFetch(rc *RequestContext, kreq kmsg.Request) Reply {
	s := rc.Server
	req := kreq.(*kmsg.FetchRequest)
	resp := req.ResponseKind().(*kmsg.FetchResponse)
	if req.Version >= 7 {
		if req.SessionID != 0 {
			resp.ErrorCode = kerr.FetchSessionIDNotFound.Code
			return Respond(resp)
		}
		if req.SessionEpoch != 0 && req.SessionEpoch != -1 {
			resp.ErrorCode = kerr.InvalidFetchSessionEpoch.Code
			return Respond(resp)
		}
	}
	var parts []fetchPart
	resp.Topics = make([]kmsg.FetchResponseTopic, len(req.Topics))
	zc := !zeroCopyOff.Load()
	fresp := &fetchResponse{FetchResponse: resp}
	if zc {
		fresp.ranges = make([][]storage.FileRange, len(req.Topics))
	}
	for i, rt := range req.Topics {
		st := &resp.Topics[i]
		st.Default()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		var t *topic
		if req.Version >= 13 {
			t = s.lookupTopicID(rt.TopicID)
		} else {
			t = s.lookupTopic(rt.Topic)
		}
		st.Partitions = make([]kmsg.FetchResponseTopicPartition, len(rt.Partitions))
		if zc {
			fresp.ranges[i] = make([]storage.FileRange, len(rt.Partitions))
		}
		for j, rp := range rt.Partitions {
			sp := &st.Partitions[j]
			sp.Default()
			sp.Partition = rp.Partition
			sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = -1, -1, -1
			sp.PreferredReadReplica = -1
			sp.RecordBatches = emptyRecords
			var l *storage.Log
			if t != nil {
				l = t.partition(rp.Partition)
			}
			if l == nil {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				if req.Version >= 13 && t == nil {
					sp.ErrorCode = kerr.UnknownTopicID.Code
				}
				continue
			}
			fp := fetchPart{resp: sp, log: l, offset: rp.FetchOffset, maxBytes: rp.PartitionMaxBytes,
				txn: s.committedState(req.IsolationLevel, t.name, rp.Partition)}
			if zc && fp.txn == nil {
				// read_committed fetches read the data to trim it
				// at the last stable offset.
				fp.rng = &fresp.ranges[i][j]
			}
			parts = append(parts, fp)
		}
	}
	maxBytes := req.MaxBytes
	if req.Version < 3 || maxBytes <= 0 {
		maxBytes = 1<<31 - 1
	}
	var bufs [][]byte
	release := func() {
		for _, b := range bufs {
			storage.PutBuffer(b)
		}
		bufs = bufs[:0]
	}
	wait := time.Duration(max(req.MaxWaitMillis, 0)) * time.Millisecond
	minBytes := int(req.MinBytes)
	r := RespondLater(func() kmsg.Response {
		start := time.Now()
		var w *storage.Waiter
		defer func() {
			if w != nil {
				for _, p := range parts {
					p.log.Unwatch(w)
				}
			}
		}()
		var timer *time.Timer
		for {
			if w == nil && wait > 0 && minBytes > 0 {
				// Watch before reading so no append is missed.
				w = storage.NewWaiter()
				for _, p := range parts {
					p.log.Watch(w)
				}
			}
			release()
			total, stop := readFetch(parts, maxBytes, &bufs)
			left := wait - time.Since(start)
			if stop || total >= minBytes || left <= 0 || w == nil {
				s.metrics.fetched(s, fresp)
				return fresp
			}
			if timer == nil {
				timer = time.NewTimer(left)
				defer timer.Stop()
			}
			select {
			case <-w.C:
			case <-timer.C:
				wait = 0
			case <-rc.Closing:
				wait = 0
			}
		}
	})
	r.release = release
	return r
}

// readFetch fills the response partitions with data, respecting the
// per-partition and response byte limits (always returning at least one
// whole batch so a large batch cannot block a consumer). It returns the
// bytes read and whether an error should end the wait.
func readFetch(parts []fetchPart, maxBytes int32, bufs *[][]byte) (total int, stop bool) {
	budget := int(maxBytes)
	for _, p := range parts {
		sp := p.resp
		sp.ErrorCode = 0
		sp.RecordBatches = emptyRecords
		if p.rng != nil {
			*p.rng = storage.FileRange{}
		}
		limit := min(int(p.maxBytes), budget)
		if total > 0 && limit <= 0 {
			start, hw := p.log.Offsets()
			sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = hw, hw, start
			if p.txn != nil {
				sp.LastStableOffset = p.txn.LSO(hw)
			}
			continue
		}
		var res storage.ReadResult
		var err error
		if p.rng != nil {
			res, *p.rng, err = p.log.ReadRange(p.offset, limit)
			if err == nil && p.rng.Len > 0 {
				total += int(p.rng.Len)
				budget -= int(p.rng.Len)
			}
		} else {
			res, err = p.log.Read(p.offset, limit)
		}
		sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = res.HighWatermark, res.HighWatermark, res.LogStartOffset
		if p.txn != nil && err == nil {
			applyReadCommitted(p.txn, p.offset, &res, sp)
		}
		if err != nil {
			sp.ErrorCode, _ = kafkaCode(err)
			if errors.Is(err, storage.ErrClosed) {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			}
			stop = true
			continue
		}
		if res.Data != nil {
			*bufs = append(*bufs, res.Data)
			sp.RecordBatches = res.Data
			total += len(res.Data)
			budget -= len(res.Data)
		}
	}
	return total, stop
}

// emptyRecords encodes as an empty (not null) records field; librdkafka
// rejects a null one.
var emptyRecords = []byte{}

// splice is a part of a response not held in the encoded buffer: the
// records of one partition, inserted at offset at of the buffer, either
// bytes already in memory or a segment file range.
type splice struct {
	at   int
	data []byte
	file storage.FileRange
}

func (s *splice) len() int64 {
	if s.file.Len > 0 {
		return s.file.Len
	}
	return int64(len(s.data))
}

// spliceMin is the size from which records already in memory are written
// from where they are rather than copied into the encoded buffer.
const spliceMin = 16 << 10

// appendFetchSpliced encodes v as kmsg would, except that the records of a
// partition whose data is in a file range (or is large) are not appended:
// only their length prefix is, and a splice records where they go. It
// reports false, having appended nothing useful, when v has something this
// encoder does not write (a version it does not know, tagged fields): the
// caller then encodes the response with kmsg.
func appendFetchSpliced(dst []byte, v *fetchResponse, splices []splice) ([]byte, []splice, bool) {
	version := v.Version
	if version < 4 || version > 18 {
		return dst, splices, false
	}
	flex := version >= 12
	if flex && (len(v.Brokers) > 0 || v.UnknownTags.Len() > 0) {
		return dst, splices, false
	}
	arrayLen := func(n int) {
		if flex {
			dst = kbin.AppendCompactArrayLen(dst, n)
		} else {
			dst = kbin.AppendArrayLen(dst, n)
		}
	}
	dst = kbin.AppendInt32(dst, v.ThrottleMillis)
	if version >= 7 {
		dst = kbin.AppendInt16(dst, v.ErrorCode)
		dst = kbin.AppendInt32(dst, v.SessionID)
	}
	arrayLen(len(v.Topics))
	for i := range v.Topics {
		t := &v.Topics[i]
		if flex && t.UnknownTags.Len() > 0 {
			return dst, splices, false
		}
		if version <= 12 {
			if flex {
				dst = kbin.AppendCompactString(dst, t.Topic)
			} else {
				dst = kbin.AppendString(dst, t.Topic)
			}
		} else {
			dst = kbin.AppendUuid(dst, t.TopicID)
		}
		arrayLen(len(t.Partitions))
		for j := range t.Partitions {
			p := &t.Partitions[j]
			if flex && (p.UnknownTags.Len() > 0 ||
				p.DivergingEpoch.Epoch != -1 || p.DivergingEpoch.EndOffset != -1 || p.DivergingEpoch.UnknownTags.Len() > 0 ||
				p.CurrentLeader.LeaderID != -1 || p.CurrentLeader.LeaderEpoch != -1 || p.CurrentLeader.UnknownTags.Len() > 0 ||
				p.SnapshotID.EndOffset != -1 || p.SnapshotID.Epoch != -1 || p.SnapshotID.UnknownTags.Len() > 0) {
				return dst, splices, false
			}
			dst = kbin.AppendInt32(dst, p.Partition)
			dst = kbin.AppendInt16(dst, p.ErrorCode)
			dst = kbin.AppendInt64(dst, p.HighWatermark)
			dst = kbin.AppendInt64(dst, p.LastStableOffset)
			if version >= 5 {
				dst = kbin.AppendInt64(dst, p.LogStartOffset)
			}
			a := p.AbortedTransactions
			if flex {
				dst = kbin.AppendCompactNullableArrayLen(dst, len(a), a == nil)
			} else {
				dst = kbin.AppendNullableArrayLen(dst, len(a), a == nil)
			}
			for k := range a {
				if flex && a[k].UnknownTags.Len() > 0 {
					return dst, splices, false
				}
				dst = kbin.AppendInt64(dst, a[k].ProducerID)
				dst = kbin.AppendInt64(dst, a[k].FirstOffset)
				if flex {
					dst = kbin.AppendUvarint(dst, 0)
				}
			}
			if version >= 11 {
				dst = kbin.AppendInt32(dst, p.PreferredReadReplica)
			}
			var sp splice
			if v.ranges != nil && v.ranges[i][j].Len > 0 {
				sp.file = v.ranges[i][j]
			} else if len(p.RecordBatches) >= spliceMin {
				sp.data = p.RecordBatches
			}
			if n := sp.len(); n > 0 {
				if n > 1<<31-2 {
					return dst, splices, false
				}
				if flex {
					dst = kbin.AppendUvarint(dst, uint32(n)+1)
				} else {
					dst = kbin.AppendInt32(dst, int32(n))
				}
				sp.at = len(dst)
				splices = append(splices, sp)
			} else if flex {
				dst = kbin.AppendCompactNullableBytes(dst, p.RecordBatches)
			} else {
				dst = kbin.AppendNullableBytes(dst, p.RecordBatches)
			}
			if flex {
				dst = kbin.AppendUvarint(dst, 0)
			}
		}
		if flex {
			dst = kbin.AppendUvarint(dst, 0)
		}
	}
	if flex {
		dst = kbin.AppendUvarint(dst, 0)
	}
	return dst, splices, true
}

// materialize reads the records left in segment files into buffers (taken
// with storage.GetBuffer and appended to bufs), so that the response can be
// encoded whole with kmsg; only ranges shorter than below are read.
func (v *fetchResponse) materialize(bufs *[][]byte, below int64) error {
	for i := range v.ranges {
		for j, r := range v.ranges[i] {
			if r.Len == 0 || r.Len >= below {
				continue
			}
			b := storage.GetBuffer(int(r.Len))
			*bufs = append(*bufs, b)
			if _, err := r.File.ReadAt(b, r.Pos); err != nil {
				return err
			}
			v.Topics[i].Partitions[j].RecordBatches = b
			v.ranges[i][j] = storage.FileRange{}
		}
	}
	return nil
}
