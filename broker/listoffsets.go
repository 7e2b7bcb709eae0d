package broker

import (
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/penstockhq/penstock/broker/storage"
)

func init() {
	register(int16(kmsg.ListOffsets), 1, 11, handleListOffsets)
	register(int16(kmsg.OffsetForLeaderEpoch), 0, 4, handleOffsetForLeaderEpoch)
}

// Special ListOffsets timestamps.
const (
	listLatest        = -1
	listEarliest      = -2
	listMaxTimestamp  = -3 // KIP-734
	listEarliestLocal = -4 // KIP-405
	listEarliestTier  = -5 // KIP-1005
)

func handleListOffsets(rc *RequestContext, kreq kmsg.Request) Reply {
	s := rc.Server
	req := kreq.(*kmsg.ListOffsetsRequest)
	resp := req.ResponseKind().(*kmsg.ListOffsetsResponse)
	for _, rt := range req.Topics {
		t := s.lookupTopic(rt.Topic)
		st := kmsg.NewListOffsetsResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewListOffsetsResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.Timestamp, sp.Offset, sp.LeaderEpoch = -1, -1, 0
			var l *storage.Log
			if t != nil {
				l = t.partition(rp.Partition)
			}
			if l == nil {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			if rp.CurrentLeaderEpoch > 0 {
				sp.ErrorCode = kerr.UnknownLeaderEpoch.Code
				st.Partitions = append(st.Partitions, sp)
				continue
			}
			start, hw := l.Offsets()
			switch ts := rp.Timestamp; ts {
			case listLatest:
				sp.Offset = hw
				if req.IsolationLevel == 1 {
					sp.Offset = s.lastStable(rt.Topic, rp.Partition, hw)
				}
			case listEarliest, listEarliestLocal:
				sp.Offset = start
			case listEarliestTier:
				sp.Offset = -1
			case listMaxTimestamp:
				sp.Timestamp, sp.Offset = l.MaxTimestamp()
			default:
				if ts < 0 {
					sp.ErrorCode = kerr.InvalidRequest.Code
					break
				}
				batch, err := l.OffsetForTimestamp(ts)
				if err != nil {
					sp.ErrorCode, _ = kafkaCode(err)
					break
				}
				if batch != nil {
					sp.Offset, sp.Timestamp = storage.FirstRecordAtOrAfter(batch, ts)
					sp.Offset = max(sp.Offset, start)
				}
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return Respond(resp)
}

// handleOffsetForLeaderEpoch answers for the broker's single leader epoch
// (0): the end offset of epoch 0 (or later) is the log end.
func handleOffsetForLeaderEpoch(rc *RequestContext, kreq kmsg.Request) Reply {
	s := rc.Server
	req := kreq.(*kmsg.OffsetForLeaderEpochRequest)
	resp := req.ResponseKind().(*kmsg.OffsetForLeaderEpochResponse)
	for _, rt := range req.Topics {
		t := s.lookupTopic(rt.Topic)
		st := kmsg.NewOffsetForLeaderEpochResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetForLeaderEpochResponseTopicPartition()
			sp.Partition = rp.Partition
			sp.LeaderEpoch, sp.EndOffset = -1, -1
			var l *storage.Log
			if t != nil {
				l = t.partition(rp.Partition)
			}
			switch {
			case l == nil:
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			case rp.CurrentLeaderEpoch > 0:
				sp.ErrorCode = kerr.UnknownLeaderEpoch.Code
			case rp.LeaderEpoch < 0:
				// Unknown epoch: Kafka answers -1/-1.
			default:
				sp.LeaderEpoch, sp.EndOffset = 0, l.HighWatermark()
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	return Respond(resp)
}
