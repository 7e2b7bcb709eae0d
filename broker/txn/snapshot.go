package txn

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/penstockhq/penstock/broker/storage"
)

// A producer state snapshot is what PartitionState knows after every
// batch before its offset, in the partition directory as
// <offset, 20 digits>.producer-state (Kafka's .snapshot files), text:
//
//	penstock-producer-state 1
//	producer <id> <epoch> <lastTimestamp> then <firstSeq> <lastSeq> <baseOffset> <lastOffset> per retained batch
//	open <id> <firstOffset>
//	aborted <id> <firstOffset> <lastOffset>
//	crc32c <checksum of the lines above>
//
// The two newest snapshots are kept, so that a machine crash that takes
// unsynced data (and with it the newest snapshot's offset) from the log
// can fall back to the older one.
const (
	snapshotSuffix = ".producer-state"
	snapshotMagic  = "penstock-producer-state 1"
	keptSnapshots  = 2
)

var crc32c = crc32.MakeTable(crc32.Castagnoli)

func snapshotPath(dir string, offset int64) string {
	return filepath.Join(dir, fmt.Sprintf("%020d%s", offset, snapshotSuffix))
}

// listSnapshots returns the offsets of the snapshots in dir, ascending.
func listSnapshots(fsys storage.FS, dir string) ([]int64, error) {
	entries, err := fsys.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("list producer state snapshots: %w", err)
	}
	var out []int64
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), snapshotSuffix)
		if !ok {
			continue
		}
		if n, err := strconv.ParseInt(name, 10, 64); err == nil && n >= 0 {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Snapshot writes the state to a new snapshot file beside l's segments, on
// l's file system (fsynced, then renamed into place and the directory
// fsynced) unless the log is empty or has not
// moved since the last one, and deletes snapshots older than the two
// newest. First it forgets the aborted transactions that ended before the
// log start and, as Kafka does after producer.id.expiration.ms, the
// producers without an open transaction whose newest batch is older than
// expireBefore (Unix ms; 0 keeps all): a batch of theirs is then taken as
// from a new producer.
func (p *PartitionState) Snapshot(l *storage.Log, expireBefore int64) error {
	p.snapMu.Lock()
	defer p.snapMu.Unlock()
	// Every batch below the log end has been through BatchAppended (the
	// log publishes offsets after its hook has run), and none at or after
	// p.end has: the state is exactly that of the log up to max(end,
	// p.end).
	start, end := l.LogStartOffset(), logEnd(l)
	p.mu.Lock()
	off := max(end, p.end)
	if off == p.snapshot || off == 0 {
		p.mu.Unlock()
		return nil
	}
	p.aborted.dropBefore(start)
	for id, e := range p.producers {
		if _, open := p.ongoing[id]; !open && e.lastTS < expireBefore {
			delete(p.producers, id)
		}
	}
	data := p.encodeLocked()
	p.mu.Unlock()

	fsys := l.FS()
	path := snapshotPath(p.dir, off)
	if err := storage.WriteFileAtomic(fsys, path, data); err != nil {
		return fmt.Errorf("producer state snapshot of %s: %w", p.name(), err)
	}
	p.snapshot = off
	snaps, err := listSnapshots(fsys, p.dir)
	if err != nil {
		return err
	}
	for _, old := range snaps[:max(0, len(snaps)-keptSnapshots)] {
		fsys.Remove(snapshotPath(p.dir, old))
	}
	return nil
}

// logEnd is the offset after the last batch written to l (which the high
// watermark may trail).
func logEnd(l *storage.Log) int64 {
	segs := l.Segments()
	return segs[len(segs)-1].Next
}

func (p *PartitionState) encodeLocked() []byte {
	var b bytes.Buffer
	b.WriteString(snapshotMagic + "\n")
	for _, id := range slices.Sorted(maps.Keys(p.producers)) {
		e := p.producers[id]
		fmt.Fprintf(&b, "producer %d %d %d", id, e.epoch, e.lastTS)
		for _, m := range e.batches {
			fmt.Fprintf(&b, " %d %d %d %d", m.firstSeq, m.lastSeq, m.baseOffset, m.lastOffset)
		}
		b.WriteByte('\n')
	}
	for _, id := range slices.Sorted(maps.Keys(p.ongoing)) {
		fmt.Fprintf(&b, "open %d %d\n", id, p.ongoing[id])
	}
	for _, a := range p.aborted.entries {
		fmt.Fprintf(&b, "aborted %d %d %d\n", a.ProducerID, a.FirstOffset, a.LastOffset)
	}
	fmt.Fprintf(&b, "crc32c %d\n", crc32.Checksum(b.Bytes(), crc32c))
	return b.Bytes()
}

var errBadSnapshot = errors.New("malformed producer state snapshot")

// loadSnapshotLocked replaces the state with a snapshot's.
func (p *PartitionState) loadSnapshotLocked(fsys storage.FS, path string) error {
	data, err := fsys.ReadFile(path)
	if err != nil {
		return err
	}
	body, sum, ok := cutLastLine(data)
	if !ok || !bytes.HasPrefix(body, []byte(snapshotMagic+"\n")) {
		return errBadSnapshot
	}
	if want, err := strconv.ParseUint(strings.TrimPrefix(sum, "crc32c "), 10, 32); err != nil || uint32(want) != crc32.Checksum(body, crc32c) {
		return fmt.Errorf("%w: checksum mismatch", errBadSnapshot)
	}
	producers, ongoing, aborted := map[int64]*producerEntry{}, map[int64]int64{}, newAbortedIndex()
	var end int64
	sc := bufio.NewScanner(bytes.NewReader(body[len(snapshotMagic)+1:]))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		fs := strings.Fields(sc.Text())
		if len(fs) == 0 {
			return errBadSnapshot
		}
		n := make([]int64, len(fs)-1)
		for i, f := range fs[1:] {
			if n[i], err = strconv.ParseInt(f, 10, 64); err != nil {
				return fmt.Errorf("%w: %q", errBadSnapshot, sc.Text())
			}
		}
		switch {
		case fs[0] == "producer" && len(n) >= 3 && (len(n)-3)%4 == 0:
			e := &producerEntry{epoch: int16(n[1]), lastTS: n[2]}
			for i := 3; i < len(n); i += 4 {
				e.batches = append(e.batches, batchMeta{int32(n[i]), int32(n[i+1]), n[i+2], n[i+3]})
				end = max(end, n[i+3]+1)
			}
			producers[n[0]] = e
		case fs[0] == "open" && len(n) == 2:
			ongoing[n[0]] = n[1]
			end = max(end, n[1]+1)
		case fs[0] == "aborted" && len(n) == 3:
			aborted.add(AbortedTxn{ProducerID: n[0], FirstOffset: n[1], LastOffset: n[2]})
			end = max(end, n[2]+1)
		default:
			return fmt.Errorf("%w: %q", errBadSnapshot, sc.Text())
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%w: %v", errBadSnapshot, err)
	}
	p.producers, p.ongoing, p.aborted, p.end = producers, ongoing, aborted, end
	return nil
}

// cutLastLine splits data ending in a newline into what precedes its last
// line and that line.
func cutLastLine(data []byte) ([]byte, string, bool) {
	if len(data) == 0 || data[len(data)-1] != '\n' {
		return nil, "", false
	}
	i := bytes.LastIndexByte(data[:len(data)-1], '\n')
	if i < 0 {
		return nil, "", false
	}
	return data[:i+1], string(data[i+1 : len(data)-1]), true
}
