package postgres

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connectors/debezium"
)

// The hot paths without a database, on the table of bench/postgres:
//
//	go test -run - -bench . -benchmem ./connectors/postgres/

func benchTable(tb testing.TB, s *settings) *table {
	tb.Helper()
	cat := &catalogTable{relID: 16384, schema: "public", name: "bench", identity: 'd', pk: []string{"id"},
		cols: []catalogColumn{{name: "id", oid: oidInt8, typmod: -1, notNull: true}, {name: "a", oid: oidInt4, typmod: -1, notNull: true},
			{name: "b", oid: oidText, typmod: -1}, {name: "c", oid: oidTimestamptz, typmod: -1},
			{name: "d", oid: oidNumeric, typmod: (12<<16 | 2) + 4}}}
	tbl, err := s.buildTable(&typeMap{byOID: map[uint32]*pgType{}}, cat.relID, cat, cat.identity, cat.cols)
	if err != nil {
		tb.Fatal(err)
	}
	return tbl
}

// benchRowText is row g of the bench table as COPY and pgoutput render it.
func benchRowText(g int) []string {
	ts := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC).Add(-time.Duration(g) * time.Second).Add(time.Duration(g%7) * 123456 * time.Microsecond)
	c := ts.Format("2006-01-02 15:04:05.999999") + "+00"
	return []string{strconv.Itoa(g), strconv.Itoa(g % 1000), "row number " + strconv.Itoa(g), c,
		strconv.FormatFloat(float64(g)/100, 'f', 2, 64)}
}

func benchCopyText(rows int) []byte {
	var b []byte
	for g := 1; g <= rows; g++ {
		for i, f := range benchRowText(g) {
			if i > 0 {
				b = append(b, '\t')
			}
			b = append(b, f...)
		}
		b = append(b, '\n')
	}
	return b
}

func BenchmarkSnapshotRows(b *testing.B) {
	s := testSettings(b, nil)
	tbl := benchTable(b, s)
	tk := &Task{s: s, partition: map[string]any{"server": s.prefix}}
	const rows = 4096
	text := benchCopyText(rows)
	// pgx hands one CopyData message, one row, per Write.
	var lines [][]byte
	for len(text) > 0 {
		i := indexByte(text, '\n')
		lines = append(lines, text[:i+1])
		text = text[i+1:]
	}
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		sb := newSnapBuilder(tk, tbl, "bench", 1, 1, nil)
		p := &copyParser{row: func(kinds []byte, data [][]byte) error {
			if err := sb.row(kinds, data); err != nil {
				return err
			}
			if sb.full() {
				sb.take()
			}
			return nil
		}}
		for _, l := range lines {
			if _, err := p.Write(l); err != nil {
				b.Fatal(err)
			}
		}
		n += rows
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/row")
}

// pgoutput messages as the server sends them.

func walBeginMsg(final uint64, xid uint32) []byte {
	b := []byte{'B'}
	b = binary.BigEndian.AppendUint64(b, final)
	b = binary.BigEndian.AppendUint64(b, uint64(time.Now().UnixMicro()-pgEpochMicros))
	return binary.BigEndian.AppendUint32(b, xid)
}

func walCommitMsg(commit, end uint64) []byte {
	b := []byte{'C', 0}
	b = binary.BigEndian.AppendUint64(b, commit)
	b = binary.BigEndian.AppendUint64(b, end)
	return binary.BigEndian.AppendUint64(b, uint64(time.Now().UnixMicro()-pgEpochMicros))
}

// walTupleBytes renders a TupleData; a nil column is a null, "\x00u" an
// unchanged TOAST value.
func walTupleBytes(cols []*string) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(len(cols)))
	for _, c := range cols {
		switch {
		case c == nil:
			b = append(b, 'n')
		case *c == "\x00u":
			b = append(b, 'u')
		default:
			b = append(b, 't')
			b = binary.BigEndian.AppendUint32(b, uint32(len(*c)))
			b = append(b, *c...)
		}
	}
	return b
}

func strs(ss ...string) []*string {
	out := make([]*string, len(ss))
	for i := range ss {
		out[i] = &ss[i]
	}
	return out
}

func walInsertMsg(rel uint32, cols []*string) []byte {
	b := binary.BigEndian.AppendUint32([]byte{'I'}, rel)
	return append(append(b, 'N'), walTupleBytes(cols)...)
}

func walUpdateMsg(rel uint32, oldTag byte, old, cols []*string) []byte {
	b := binary.BigEndian.AppendUint32([]byte{'U'}, rel)
	if oldTag != 0 {
		b = append(append(b, oldTag), walTupleBytes(old)...)
	}
	return append(append(b, 'N'), walTupleBytes(cols)...)
}

func walDeleteMsg(rel uint32, tag byte, old []*string) []byte {
	b := binary.BigEndian.AppendUint32([]byte{'D'}, rel)
	return append(append(b, tag), walTupleBytes(old)...)
}

// benchStreamer returns a streamer that knows tbl, whose records a
// goroutine takes as the worker's Poll would.
func benchStreamer(tb testing.TB, s *settings, tbl *table) (*streamer, func()) {
	ctx, cancel := context.WithCancel(context.Background())
	tk := &Task{s: s, q: debezium.NewQueue(s.maxQueue, int(s.maxQueueBytes)), partition: map[string]any{"server": s.prefix},
		log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	st := &streamer{t: tk, s: s, ctx: ctx, tables: map[uint32]*table{tbl.relID: tbl}, proto: 1,
		streamed: map[uint32][]bufferedChange{}, batch: make([]*connect.Record, 0, s.maxBatch)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			_, _ = tk.q.Take(ctx, s.maxBatch, time.Millisecond)
		}
	}()
	return st, func() { cancel(); <-done }
}

func BenchmarkStreamChanges(b *testing.B) {
	s := testSettings(b, nil)
	tbl := benchTable(b, s)
	const perTx = 1000
	var msgs [][]byte
	msgs = append(msgs, walBeginMsg(1000, 7))
	for g := 1; g <= perTx/2; g++ {
		msgs = append(msgs, walInsertMsg(tbl.relID, strs(benchRowText(g)...)))
	}
	for g := 1; g <= perTx/2; g++ {
		r := benchRowText(g)
		r[1] = strconv.Itoa(g%1000 + 1)
		msgs = append(msgs, walUpdateMsg(tbl.relID, 0, nil, strs(r...)))
	}
	msgs = append(msgs, walCommitMsg(1000, 1100))
	st, stop := benchStreamer(b, s, tbl)
	defer stop()
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		for i, m := range msgs {
			if err := st.handle(pglogrepl.XLogData{WALStart: pglogrepl.LSN(1000 + i), WALData: m}); err != nil {
				b.Fatal(err)
			}
		}
		n += perTx
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n), "ns/event")
}
