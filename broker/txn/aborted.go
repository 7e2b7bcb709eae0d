package txn

import "slices"

// abortedIndex holds a partition's aborted transactions ordered by the
// offset of their ABORT marker (LastOffset), looked up by binary search:
// minFirst[i] is the smallest FirstOffset of entries[i:], which bounds a
// range query, and byProducer gives the cleaner a producer's own aborted
// transactions, which never overlap one another.
type abortedIndex struct {
	entries    []AbortedTxn
	minFirst   []int64
	byProducer map[int64][]AbortedTxn
}

func newAbortedIndex() abortedIndex {
	return abortedIndex{byProducer: map[int64][]AbortedTxn{}}
}

func byLastOffset(a AbortedTxn, off int64) int {
	switch {
	case a.LastOffset < off:
		return -1
	case a.LastOffset > off:
		return 1
	}
	return 0
}

// add inserts a in marker order (markers arrive in offset order, so this
// is an append but for a replay that repeats an entry, which is skipped).
func (x *abortedIndex) add(a AbortedTxn) {
	i, found := slices.BinarySearchFunc(x.entries, a.LastOffset, byLastOffset)
	if found {
		return
	}
	x.entries = slices.Insert(x.entries, i, a)
	x.minFirst = slices.Insert(x.minFirst, i, a.FirstOffset)
	if i+1 < len(x.minFirst) {
		x.minFirst[i] = min(a.FirstOffset, x.minFirst[i+1])
	}
	for j := i - 1; j >= 0 && x.minFirst[j] > x.minFirst[j+1]; j-- {
		x.minFirst[j] = x.minFirst[j+1]
	}
	own := x.byProducer[a.ProducerID]
	k, _ := slices.BinarySearchFunc(own, a.LastOffset, byLastOffset)
	x.byProducer[a.ProducerID] = slices.Insert(own, k, a)
}

// overlapping returns the entries whose range meets [from, to].
func (x *abortedIndex) overlapping(from, to int64) []AbortedTxn {
	i, _ := slices.BinarySearchFunc(x.entries, from, byLastOffset)
	var out []AbortedTxn
	for ; i < len(x.entries) && x.minFirst[i] <= to; i++ {
		if a := x.entries[i]; a.FirstOffset <= to {
			out = append(out, a)
		}
	}
	return out
}

// contains reports whether producerID's batch at offset is in one of its
// aborted transactions.
func (x *abortedIndex) contains(producerID, offset int64) bool {
	own := x.byProducer[producerID]
	i, _ := slices.BinarySearchFunc(own, offset, byLastOffset)
	return i < len(own) && own[i].FirstOffset <= offset
}

// dropBefore forgets the transactions that ended before offset (the log
// start): no reader or cleaner can meet their records any more.
func (x *abortedIndex) dropBefore(offset int64) {
	i, _ := slices.BinarySearchFunc(x.entries, offset, byLastOffset)
	if i == 0 {
		return
	}
	for _, a := range x.entries[:i] {
		own := x.byProducer[a.ProducerID]
		if len(own) > 0 && own[0] == a {
			own = own[1:]
		}
		if len(own) == 0 {
			delete(x.byProducer, a.ProducerID)
		} else {
			x.byProducer[a.ProducerID] = own
		}
	}
	x.entries = slices.Clone(x.entries[i:])
	x.minFirst = slices.Clone(x.minFirst[i:])
}
