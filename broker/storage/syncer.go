package storage

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Syncer group-commits fsyncs: appends mark their segment file dirty and get
// the current sync generation; one goroutine repeatedly takes every dirty
// file, fsyncs them together and completes the generation. Producers waiting
// with acks=all therefore share fsyncs across partitions and connections, and
// while one round of fsyncs runs the next round's writes accumulate.
type Syncer struct {
	log *slog.Logger

	mu      sync.Mutex
	dirty   map[*os.File]struct{}
	cur     *SyncGen
	closed  bool
	wake    chan struct{}
	done    chan struct{}
	workers int

	rounds    atomic.Int64
	fsyncs    atomic.Int64
	syncNanos atomic.Int64
}

// SyncStats counts the syncer's work: group commits (rounds) and the file
// fsyncs they made.
type SyncStats struct {
	Rounds   int64
	Fsyncs   int64
	SyncTime time.Duration // wall time spent in group commits
}

// Stats returns the counts so far.
func (s *Syncer) Stats() SyncStats {
	return SyncStats{Rounds: s.rounds.Load(), Fsyncs: s.fsyncs.Load(), SyncTime: time.Duration(s.syncNanos.Load())}
}

// SyncGen is one group commit. Done is closed once every file marked dirty
// before the generation started syncing has been fsynced; Err is then set.
type SyncGen struct {
	done chan struct{}
	err  error
}

// Done returns a channel closed when the generation's fsyncs completed.
func (g *SyncGen) Done() <-chan struct{} { return g.done }

// Err is the generation's fsync error; only valid after Done is closed.
func (g *SyncGen) Err() error { return g.err }

// Wait blocks until the generation's fsyncs completed and returns their error.
func (g *SyncGen) Wait() error {
	<-g.done
	return g.err
}

// NewSyncer starts the group-commit goroutine. Close stops it.
func NewSyncer(logger *slog.Logger) *Syncer {
	if logger == nil {
		logger = slog.Default()
	}
	s := &Syncer{
		log:     logger,
		dirty:   make(map[*os.File]struct{}),
		cur:     &SyncGen{done: make(chan struct{})},
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		workers: 4,
	}
	go s.run()
	return s
}

// Mark records that f has unsynced writes and returns the generation whose
// completion guarantees they are durable.
func (s *Syncer) Mark(f *os.File) *SyncGen {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		g := &SyncGen{done: make(chan struct{}), err: ErrClosed}
		close(g.done)
		return g
	}
	s.dirty[f] = struct{}{}
	g := s.cur
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	return g
}

// Close syncs what is pending and stops the goroutine.
func (s *Syncer) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		<-s.done
		return
	}
	s.closed = true
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
	<-s.done
}

func (s *Syncer) run() {
	defer close(s.done)
	var files []*os.File
	for range s.wake {
		for {
			s.mu.Lock()
			files = files[:0]
			for f := range s.dirty {
				files = append(files, f)
			}
			clear(s.dirty)
			g := s.cur
			closed := s.closed
			if len(files) > 0 {
				s.cur = &SyncGen{done: make(chan struct{})}
			}
			s.mu.Unlock()
			if len(files) == 0 {
				if closed {
					close(g.done)
					return
				}
				break
			}
			t0 := time.Now()
			g.err = s.syncAll(files)
			s.syncNanos.Add(int64(time.Since(t0)))
			s.rounds.Add(1)
			s.fsyncs.Add(int64(len(files)))
			close(g.done)
		}
	}
}

// syncAll fsyncs files, a few at a time so that the filesystem can merge
// their journal commits.
func (s *Syncer) syncAll(files []*os.File) error {
	if len(files) == 1 {
		return syncFile(files[0])
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		next = make(chan *os.File)
	)
	n := min(s.workers, len(files))
	for range n {
		wg.Go(func() {
			for f := range next {
				if err := syncFile(f); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		})
	}
	for _, f := range files {
		next <- f
	}
	close(next)
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		s.log.Error("fsync failed", "err", err)
		return err
	}
	return nil
}

func syncFile(f *os.File) error {
	if err := f.Sync(); err != nil {
		if errors.Is(err, os.ErrClosed) {
			// The segment was deleted by retention or with its topic;
			// there is nothing left to make durable.
			return nil
		}
		return fmt.Errorf("fsync %s: %w", f.Name(), err)
	}
	return nil
}
