package storage

import "fmt"

// DuplicateBatchError is what an append hook returns for a batch that an
// idempotent producer already wrote (a retry): the append is skipped and
// the producer is answered with the offsets the batch got the first time.
type DuplicateBatchError struct {
	BaseOffset int64
	LastOffset int64
}

func (e *DuplicateBatchError) Error() string {
	return fmt.Sprintf("duplicate batch, already written at offsets %d-%d", e.BaseOffset, e.LastOffset)
}
