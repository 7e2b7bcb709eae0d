package broker

import (
	"errors"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/penstockhq/penstock/broker/storage"
)

func init() {
	// v3 is the first version carrying v2 record batches, the only
	// format the log stores.
	register(int16(kmsg.Produce), 3, 13, handleProduce)
	register(int16(kmsg.InitProducerID), 0, 5, handleInitProducerID)
}

// handleProduce appends every partition's batches while the request is
// read (so pipelined produce requests on a connection keep their order),
// then for acks=all defers the response until a group-committed fsync
// covering the batches completes, and answers with its outcome for each
// partition: also for an idempotent producer's retry, whose first attempt
// may still be waiting for its fsync, or may have failed it.
func handleProduce(rc *RequestContext, kreq kmsg.Request) Reply {
	s := rc.Server
	req := kreq.(*kmsg.ProduceRequest)
	resp := req.ResponseKind().(*kmsg.ProduceResponse)
	if req.Acks != 0 && req.Acks != 1 && req.Acks != -1 {
		for _, rt := range req.Topics {
			st := kmsg.NewProduceResponseTopic()
			st.Topic, st.TopicID = rt.Topic, rt.TopicID
			for _, rp := range rt.Partitions {
				sp := kmsg.NewProduceResponseTopicPartition()
				sp.Partition = rp.Partition
				sp.ErrorCode = kerr.InvalidRequiredAcks.Code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		return Respond(resp)
	}
	type waiting struct {
		sp   *kmsg.ProduceResponseTopicPartition
		log  *storage.Log
		last int64            // the batch's last offset
		gen  *storage.SyncGen // the sync round covering it; nil when it was durable already
	}
	var waits []waiting
	for _, rt := range req.Topics {
		var t *topic
		if req.Version >= 13 {
			t = s.lookupTopicID(rt.TopicID)
		} else {
			t = s.lookupTopic(rt.Topic)
		}
		st := kmsg.NewProduceResponseTopic()
		st.Topic, st.TopicID = rt.Topic, rt.TopicID
		st.Partitions = make([]kmsg.ProduceResponseTopicPartition, len(rt.Partitions))
		for i, rp := range rt.Partitions {
			sp := &st.Partitions[i]
			sp.Default()
			sp.Partition = rp.Partition
			sp.BaseOffset = -1
			sp.LogAppendTime = -1
			sp.LogStartOffset = -1
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
			res, err := l.Append(rp.Records)
			if dup := (*storage.DuplicateBatchError)(nil); errors.As(err, &dup) {
				// An idempotent producer's retry: answer with the
				// offsets the batch got the first time.
				sp.BaseOffset, sp.LogStartOffset = dup.BaseOffset, l.LogStartOffset()
				if req.Acks == -1 {
					waits = append(waits, waiting{sp, l, dup.LastOffset, l.SyncFor(dup.LastOffset)})
				}
				continue
			}
			if err != nil {
				sp.ErrorCode, sp.ErrorMessage = kafkaCode(err)
				if sp.ErrorCode == kerr.KafkaStorageError.Code && !errors.Is(err, storage.ErrLogOffline) {
					// (An offline log said so once, when it went offline.)
					s.log.Error("append failed", "topic", t.name, "partition", rp.Partition, "err", err)
				}
				continue
			}
			s.metrics.produced(t.name, len(rp.Records), res.LastOffset-res.BaseOffset+1)
			sp.BaseOffset = res.BaseOffset
			sp.LogAppendTime = res.LogAppendTime
			sp.LogStartOffset = res.LogStartOffset
			if req.Acks == -1 {
				waits = append(waits, waiting{sp, l, res.LastOffset, res.Sync})
			}
		}
		resp.Topics = append(resp.Topics, st)
	}
	switch req.Acks {
	case 0:
		return NoResponse()
	case 1:
		return Respond(resp)
	}
	if len(waits) == 0 {
		return Respond(resp)
	}
	timeout := time.Duration(max(req.TimeoutMillis, 0)) * time.Millisecond
	return RespondLater(func() kmsg.Response {
		var timer <-chan time.Time
		if timeout > 0 {
			t := time.NewTimer(timeout)
			defer t.Stop()
			timer = t.C
		}
		// Once the timeout fires (or the broker closes), every partition
		// whose round has not completed gets that answer.
		var gaveUp int16
		for _, w := range waits {
			if w.gen != nil && gaveUp == 0 {
				select {
				case <-w.gen.Done():
				case <-timer:
					gaveUp = kerr.RequestTimedOut.Code
				case <-rc.Closing:
					gaveUp = kerr.NotLeaderForPartition.Code
				}
			}
			if w.gen != nil {
				select {
				case <-w.gen.Done():
				default:
					w.sp.ErrorCode = gaveUp
					continue
				}
			}
			if err := w.log.Durable(w.last); err != nil {
				w.sp.ErrorCode, w.sp.ErrorMessage = kafkaCode(err)
			}
		}
		return resp
	})
}

// handleInitProducerID allocates producer ids and epochs: persistent ids,
// epoch bumps and transactional ids (txns.go).
func handleInitProducerID(rc *RequestContext, kreq kmsg.Request) Reply {
	return initProducerID(rc, kreq.(*kmsg.InitProducerIDRequest))
}
