package broker

import (
	"errors"
	"time"

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
			parts = append(parts, fetchPart{resp: sp, log: l, offset: rp.FetchOffset, maxBytes: rp.PartitionMaxBytes,
				txn: s.committedState(req.IsolationLevel, t.name, rp.Partition)})
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
				return resp
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
		limit := min(int(p.maxBytes), budget)
		if total > 0 && limit <= 0 {
			start, hw := p.log.Offsets()
			sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = hw, hw, start
			continue
		}
		res, err := p.log.Read(p.offset, limit)
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
