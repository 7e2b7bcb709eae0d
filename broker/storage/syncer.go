package storage

import (
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Syncer group-commits fsyncs: appends mark their log dirty and get the
// current sync generation; one goroutine repeatedly takes every dirty log,
// fsyncs their active segments together, advances each log's durable
// offset (its high watermark) and completes the generation. Producers waiting
// with acks=all therefore share fsyncs across partitions and connections, and
// while one round of fsyncs runs the next round's writes accumulate.
type Syncer struct {
	log *slog.Logger

	mu      sync.Mutex
	dirty   map[*Log]struct{}
	batch   []*Log // the round's logs, reused
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

// SyncGen is one group commit. Done is closed once every log marked dirty
// before the generation started syncing has been fsynced or taken offline;
// Err is then set to the round's errors, of any log (a log's own outcome
// is Log.Durable).
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
		dirty:   make(map[*Log]struct{}),
		cur:     &SyncGen{done: make(chan struct{})},
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		workers: 4,
	}
	go s.run()
	return s
}

// mark records that l has unsynced writes and returns the generation whose
// completion makes them durable (or l offline).
func (s *Syncer) mark(l *Log) *SyncGen {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		g := &SyncGen{done: make(chan struct{}), err: ErrClosed}
		close(g.done)
		return g
	}
	s.dirty[l] = struct{}{}
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
	for range s.wake {
		for {
			synced, closed := s.round()
			if closed {
				return
			}
			if !synced {
				break
			}
		}
	}
}

// round runs one group commit: it fsyncs every log marked dirty so far and
// completes their generation. It reports whether anything was dirty, and
// closed when the syncer was closed with nothing left to do (its last
// generation is then completed). Only run (or a test driving the syncer by
// hand) calls it.
func (s *Syncer) round() (synced, closed bool) {
	s.mu.Lock()
	logs := s.batch[:0]
	for l := range s.dirty {
		logs = append(logs, l)
	}
	clear(s.dirty)
	g := s.cur
	closed = s.closed
	if len(logs) > 0 {
		s.cur = &SyncGen{done: make(chan struct{})}
	}
	s.mu.Unlock()
	if len(logs) == 0 {
		if closed {
			close(g.done)
		}
		return false, closed
	}
	t0 := time.Now()
	g.err = s.syncAll(logs)
	s.syncNanos.Add(int64(time.Since(t0)))
	s.rounds.Add(1)
	s.fsyncs.Add(int64(len(logs)))
	clear(logs)
	s.batch = logs
	close(g.done)
	return true, false
}

// syncAll fsyncs the logs, a few at a time so that the filesystem can merge
// their journal commits.
func (s *Syncer) syncAll(files []*Log) error {
	if len(files) == 1 {
		return files[0].syncActive()
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		next = make(chan *Log)
	)
	n := min(s.workers, len(files))
	for range n {
		wg.Go(func() {
			for f := range next {
				if err := f.syncActive(); err != nil {
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
	return errors.Join(errs...)
}
