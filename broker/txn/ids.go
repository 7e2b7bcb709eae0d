// Package txn holds the broker's producer state: the producer id
// allocator, the per-partition idempotence and transaction state checked
// on every append (a storage.AppendHook), and the transaction coordinator.
//
// Persistence:
//   - producer ids: the file producer-ids in the data directory holds the
//     end of the reserved id block (ids never repeat across restarts);
//   - transactions: the internal compacted topic __transaction_state holds
//     Kafka's TxnMetadataKey (v0, the transactional id) and
//     TxnMetadataValue (v0: producer id, epoch, timeout, state, partitions,
//     timestamps); the consumer groups a transaction commits offsets to are
//     stored as extra topic entries named "group:<group id>" without
//     partitions. The last value of a key wins; on start, Ongoing
//     transactions are aborted (fencing their producer) and Prepare*
//     transactions completed;
//   - partition producer state (idempotent producers' last batches, open
//     transactions, aborted transactions for read_committed fetches and
//     the log cleaner) is a function of the partition's log: on start it
//     is rebuilt by replaying the log after the newest producer state
//     snapshot (<offset>.producer-state in the partition directory,
//     Kafka's .snapshot), or the whole log without one. Snapshots are
//     written periodically, after the rebuild and at shutdown.
package txn

import (
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"sync"

	"github.com/penstockhq/penstock/broker/storage"
)

// idBlock is how many producer ids are reserved per write of the id file.
const idBlock = 1000

// IDAllocator hands out producer ids that never repeat, across restarts:
// ids are reserved in blocks, and the end of the reserved block is written
// (and fsynced) to a file before any id of the block is handed out.
type IDAllocator struct {
	fs   storage.FS
	path string

	mu   sync.Mutex
	next int64
	end  int64
}

// NewIDAllocator opens (or starts) the id file at path on fsys.
func NewIDAllocator(fsys storage.FS, path string) (*IDAllocator, error) {
	a := &IDAllocator{fs: fsys, path: path}
	b, err := fsys.ReadFile(path)
	switch {
	case err == nil:
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("producer ids: bad %s: %q", path, b)
		}
		a.next, a.end = n, n
	case errors.Is(err, fs.ErrNotExist):
	default:
		return nil, fmt.Errorf("producer ids: %w", err)
	}
	return a, nil
}

// Next returns a new producer id.
func (a *IDAllocator) Next() (int64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.next >= a.end {
		end := a.next + idBlock
		if err := storage.WriteFileAtomic(a.fs, a.path, []byte(strconv.FormatInt(end, 10)+"\n")); err != nil {
			return -1, fmt.Errorf("producer ids: reserve block: %w", err)
		}
		a.end = end
	}
	id := a.next
	a.next++
	return id, nil
}
