package broker

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/penstockhq/penstock/broker/records"
	"github.com/penstockhq/penstock/broker/storage"
	"github.com/penstockhq/penstock/broker/txn"
)

// The transaction coordinator's APIs; the state lives in package txn.
// InitProducerId is registered in produce.go and delegates to
// initProducerID below. Versions stop before KIP-890 part 2 (transaction
// version 2), which the broker does not advertise.
func init() {
	register(int16(kmsg.AddPartitionsToTxn), 0, 3, handleAddPartitionsToTxn)
	register(int16(kmsg.AddOffsetsToTxn), 0, 3, handleAddOffsetsToTxn)
	register(int16(kmsg.EndTxn), 0, 4, handleEndTxn)
	register(int16(kmsg.TxnOffsetCommit), 0, 3, handleTxnOffsetCommit)
	register(int16(kmsg.DescribeTransactions), 0, 0, handleDescribeTransactions)
	register(int16(kmsg.ListTransactions), 0, 1, handleListTransactions)
}

// initProducerID serves InitProducerId (idempotent and transactional).
func initProducerID(rc *RequestContext, req *kmsg.InitProducerIDRequest) Reply {
	co := rc.Server.coord
	if req.TransactionalID == nil {
		return Respond(co.txns.InitProducerID(req))
	}
	return RespondLater(func() kmsg.Response { return co.txns.InitProducerID(req) })
}

func handleAddPartitionsToTxn(rc *RequestContext, kreq kmsg.Request) Reply {
	co := rc.Server.coord
	req := kreq.(*kmsg.AddPartitionsToTxnRequest)
	return RespondLater(func() kmsg.Response { return co.txns.AddPartitionsToTxn(req) })
}

func handleAddOffsetsToTxn(rc *RequestContext, kreq kmsg.Request) Reply {
	co := rc.Server.coord
	req := kreq.(*kmsg.AddOffsetsToTxnRequest)
	return RespondLater(func() kmsg.Response { return co.txns.AddOffsetsToTxn(req) })
}

func handleEndTxn(rc *RequestContext, kreq kmsg.Request) Reply {
	co := rc.Server.coord
	req := kreq.(*kmsg.EndTxnRequest)
	return RespondLater(func() kmsg.Response { return co.txns.EndTxn(req) })
}

func handleTxnOffsetCommit(rc *RequestContext, kreq kmsg.Request) Reply {
	co := rc.Server.coord
	req := kreq.(*kmsg.TxnOffsetCommitRequest)
	return RespondLater(func() kmsg.Response {
		if code := co.txns.CheckTxnOffsetCommit(req); code != 0 {
			resp := req.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
			for _, rt := range req.Topics {
				st := kmsg.NewTxnOffsetCommitResponseTopic()
				st.Topic = rt.Topic
				for _, rp := range rt.Partitions {
					sp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
					sp.Partition, sp.ErrorCode = rp.Partition, code
					st.Partitions = append(st.Partitions, sp)
				}
				resp.Topics = append(resp.Topics, st)
			}
			return resp
		}
		resp, wait := co.groups.TxnOffsetCommit(req)
		wait()
		return resp
	})
}

func handleDescribeTransactions(rc *RequestContext, kreq kmsg.Request) Reply {
	req := kreq.(*kmsg.DescribeTransactionsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeTransactionsResponse)
	for _, id := range req.TransactionalIDs {
		st, _ := rc.Server.coord.txns.Describe(id)
		resp.TransactionStates = append(resp.TransactionStates, st)
	}
	return Respond(resp)
}

func handleListTransactions(rc *RequestContext, kreq kmsg.Request) Reply {
	req := kreq.(*kmsg.ListTransactionsRequest)
	resp := req.ResponseKind().(*kmsg.ListTransactionsResponse)
	for _, st := range rc.Server.coord.txns.List() {
		if len(req.StateFilters) > 0 && !contains(req.StateFilters, st.TransactionState) {
			continue
		}
		if len(req.ProducerIDFilters) > 0 && !contains(req.ProducerIDFilters, st.ProducerID) {
			continue
		}
		resp.TransactionStates = append(resp.TransactionStates, st)
	}
	return Respond(resp)
}

func contains[T comparable](s []T, v T) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// committedState returns the producer state a read_committed fetch of
// the partition needs, or nil for read_uncommitted fetches.
func (s *Server) committedState(isolation int8, topic string, partition int32) *txn.PartitionState {
	if isolation != 1 || s.coord == nil {
		return nil
	}
	return s.coord.part(topic, partition)
}

// lastStable returns the last stable offset of a partition given its high
// watermark.
func (s *Server) lastStable(topic string, partition int32, hw int64) int64 {
	if ps := s.coord.part(topic, partition); ps != nil {
		return ps.LSO(hw)
	}
	return hw
}

// applyReadCommitted limits a read_committed fetch result to the last
// stable offset and lists the aborted transactions in the returned range.
func applyReadCommitted(ps *txn.PartitionState, fetchOffset int64, res *storage.ReadResult, sp *kmsg.FetchResponseTopicPartition) {
	lso := ps.LSO(res.HighWatermark)
	sp.LastStableOffset = lso
	if res.Data == nil {
		return
	}
	end, cut := 0, false
	last := fetchOffset
	_ = records.Split(res.Data, func(b []byte) error {
		h, _, err := records.ParseHeader(b)
		if err != nil || h.BaseOffset >= lso {
			cut = true
			return errStopSplit
		}
		end += len(b)
		last = h.LastOffset()
		return nil
	})
	if cut {
		res.Data = res.Data[:end]
	}
	if end == 0 {
		return
	}
	for _, a := range ps.Aborted(fetchOffset, last) {
		at := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
		at.ProducerID, at.FirstOffset = a.ProducerID, a.FirstOffset
		sp.AbortedTransactions = append(sp.AbortedTransactions, at)
	}
}

var errStopSplit = errors.New("stop")
