package postgres

import (
	"bytes"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connectors/debezium"
)

// pgoutputSamples are well-formed messages of every type the hand-written
// decoder handles.
func pgoutputSamples() [][]byte {
	long := string(bytes.Repeat([]byte("x"), 3000))
	return [][]byte{
		walBeginMsg(0x16B3748, 742),
		walCommitMsg(0x16B3748, 0x16B3778),
		walInsertMsg(16384, strs("1", "42", "row number 1", "2024-03-01 12:00:00.5+00", "0.01")),
		walInsertMsg(16384, []*string{strs("2")[0], nil, strs("")[0], nil, strs(long)[0]}),
		walInsertMsg(7, nil),
		walUpdateMsg(16384, 0, nil, strs("1", "43", "\x00u", "2024-03-01 12:00:00+00", "-12.5")),
		walUpdateMsg(16384, 'K', strs("1"), strs("2", "43", "b", "2024-03-01 12:00:00+00", "1")),
		walUpdateMsg(16384, 'O', []*string{strs("1")[0], strs("42")[0], nil, nil, nil}, strs("1", "43", "\x00u", "c", "d")),
		walDeleteMsg(16384, 'K', strs("1")),
		walDeleteMsg(16384, 'O', []*string{strs("1")[0], strs("42")[0], nil, strs("\x00u")[0], strs("9.99")[0]}),
	}
}

// parsedTuple is a tuple as pglogrepl decodes it, in walTuple's terms.
func parsedTuple(td *pglogrepl.TupleData) walTuple {
	var t walTuple
	tupleOf(td, &t)
	return t
}

func sameTuple(t *testing.T, what string, got, want walTuple) {
	t.Helper()
	if got.present != want.present || !bytes.Equal(got.kinds, want.kinds) || len(got.data) != len(want.data) {
		t.Fatalf("%s: got %v %q %q, want %v %q %q", what, got.present, got.kinds, got.data, want.present, want.kinds, want.data)
	}
	for i := range got.data {
		if !bytes.Equal(got.data[i], want.data[i]) {
			t.Fatalf("%s column %d: got %q, want %q", what, i, got.data[i], want.data[i])
		}
	}
}

// checkAgainstPglogrepl decodes msg with the hand-written decoder and, when
// that succeeds, checks that pglogrepl.Parse decodes it the same way.
func checkAgainstPglogrepl(t *testing.T, msg []byte) error {
	t.Helper()
	if len(msg) == 0 {
		return fmt.Errorf("empty")
	}
	var err error
	var got any
	var wc walChange
	switch msg[0] {
	case 'B':
		got, err = decodeBegin(msg)
	case 'C':
		got, err = decodeCommit(msg)
	case 'I', 'U', 'D':
		err = wc.decode(msg)
	default:
		return fmt.Errorf("not handled")
	}
	if err != nil {
		return err
	}
	parsed, perr := func() (m pglogrepl.Message, err error) {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("pglogrepl panicked: %v", r)
			}
		}()
		return pglogrepl.Parse(msg)
	}()
	if perr != nil && msg[0] == 'I' && len(msg) == 8 && wc.new.present && len(wc.new.kinds) == 0 {
		// pglogrepl wants 8 bytes, one more than an Insert into a table
		// without columns takes (INSERT INTO t DEFAULT VALUES).
		return nil
	}
	if perr != nil {
		t.Fatalf("hand decoder accepted %q, pglogrepl: %v", msg, perr)
	}
	switch m := parsed.(type) {
	case *pglogrepl.BeginMessage:
		b := got.(walBegin)
		if pglogrepl.LSN(b.finalLSN) != m.FinalLSN || !b.time.Equal(m.CommitTime) || b.xid != m.Xid {
			t.Fatalf("Begin: got %+v, pglogrepl %+v", b, m)
		}
	case *pglogrepl.CommitMessage:
		c := got.(walCommit)
		if c.flags != m.Flags || pglogrepl.LSN(c.commitLSN) != m.CommitLSN || pglogrepl.LSN(c.endLSN) != m.TransactionEndLSN || !c.time.Equal(m.CommitTime) {
			t.Fatalf("Commit: got %+v, pglogrepl %+v", c, m)
		}
	case *pglogrepl.InsertMessage:
		if wc.op != 'I' || wc.relID != m.RelationID || wc.old.present {
			t.Fatalf("Insert: got %c %d", wc.op, wc.relID)
		}
		sameTuple(t, "Insert new", wc.new, parsedTuple(m.Tuple))
	case *pglogrepl.UpdateMessage:
		if wc.op != 'U' || wc.relID != m.RelationID {
			t.Fatalf("Update: got %c %d", wc.op, wc.relID)
		}
		sameTuple(t, "Update old", wc.old, parsedTuple(m.OldTuple))
		sameTuple(t, "Update new", wc.new, parsedTuple(m.NewTuple))
	case *pglogrepl.DeleteMessage:
		if wc.op != 'D' || wc.relID != m.RelationID || wc.new.present {
			t.Fatalf("Delete: got %c %d", wc.op, wc.relID)
		}
		sameTuple(t, "Delete old", wc.old, parsedTuple(m.OldTuple))
	default:
		t.Fatalf("pglogrepl parsed %q as %T", msg, parsed)
	}
	return nil
}

func TestPgoutputDecoderMatchesPglogrepl(t *testing.T) {
	for _, msg := range pgoutputSamples() {
		if err := checkAgainstPglogrepl(t, msg); err != nil {
			t.Fatalf("%q: %v", msg, err)
		}
	}
	b, err := decodeBegin(walBeginMsg(100, 7))
	if err != nil || b.finalLSN != 100 || b.xid != 7 || time.Since(b.time) > time.Minute {
		t.Fatalf("Begin = %+v, %v", b, err)
	}
	c, err := decodeCommit(walCommitMsg(100, 140))
	if err != nil || c.commitLSN != 100 || c.endLSN != 140 {
		t.Fatalf("Commit = %+v, %v", c, err)
	}
}

// Every truncation of a valid message is an error, never a panic (a
// message's tuple declares its column count, so no strict prefix is
// complete), and malformed messages are rejected.
func TestPgoutputDecoderRejectsMalformed(t *testing.T) {
	for _, msg := range pgoutputSamples() {
		for n := 1; n < len(msg); n++ {
			if err := checkAgainstPglogrepl(t, msg[:n]); err == nil {
				t.Fatalf("%q truncated to %d bytes: no error", msg, n)
			}
		}
	}
	long := walInsertMsg(1, strs("abc"))
	long[len(long)-4] = 9 // column length 3 -> 9 with 3 bytes left
	huge := walInsertMsg(1, strs("abc"))
	copy(huge[len(huge)-7:], []byte{0xff, 0xff, 0xff, 0xff})
	for _, m := range [][]byte{
		long, huge,
		{'I', 0, 0, 0, 1, 'N', 0, 1, 'x'},       // unknown column kind
		{'I', 0, 0, 0, 1, 'K', 0, 0},            // insert without N
		{'D', 0, 0, 0, 1, 'N', 0, 0},            // delete without K or O
		{'U', 0, 0, 0, 1, 'X', 0, 0},            // update with an unknown tuple type
		{'U', 0, 0, 0, 1, 'K', 0, 0, 'X', 0, 0}, // update: old tuple then not N
		{'I', 0, 0, 0, 1},
	} {
		var wc walChange
		if err := wc.decode(m); err == nil {
			t.Errorf("%q: no error", m)
		}
	}
}

func FuzzPgoutputDecoder(f *testing.F) {
	for _, msg := range pgoutputSamples() {
		f.Add(msg)
		f.Add(msg[:len(msg)/2])
	}
	f.Add([]byte{'U', 0, 0, 0, 1, 'K', 0, 1, 't', 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, msg []byte) {
		_ = checkAgainstPglogrepl(t, msg)
	})
}

// The fast path of handle (hand-decoded messages) and the pglogrepl path
// produce the same records.
func TestHandleFastPathMatchesPglogrepl(t *testing.T) {
	s := testSettings(t, nil)
	tbl := benchTable(t, s)
	msgs := [][]byte{
		walBeginMsg(5000, 9),
		walInsertMsg(tbl.relID, strs("1", "42", "row number 1", "2024-03-01 12:00:00.5+00", "0.01")),
		walInsertMsg(tbl.relID, []*string{strs("2")[0], strs("7")[0], nil, nil, nil}),
		walUpdateMsg(tbl.relID, 0, nil, strs("1", "43", "\x00u", "2024-03-01 12:00:00+00", "-12.5")),
		walUpdateMsg(tbl.relID, 'K', strs("1"), strs("3", "43", "b", "2024-03-01 12:00:00+00", "1")),
		walDeleteMsg(tbl.relID, 'K', strs("3")),
		walCommitMsg(5000, 5100),
	}
	run := func(fast bool) []*connect.Record {
		st, stop := benchStreamer(t, s, tbl)
		stop() // no consumer: the records stay in the queue
		for i, m := range msgs {
			xld := pglogrepl.XLogData{WALStart: pglogrepl.LSN(4000 + i), WALData: m}
			if fast {
				if err := st.handle(xld); err != nil {
					t.Fatal(err)
				}
				continue
			}
			parsed, err := pglogrepl.Parse(m)
			if err != nil {
				t.Fatal(err)
			}
			switch p := parsed.(type) {
			case *pglogrepl.BeginMessage:
				st.begin(p.Xid, p.FinalLSN, p.CommitTime)
			case *pglogrepl.CommitMessage:
				err = st.commit(p.TransactionEndLSN)
			default:
				err = st.change(nil, parsed, xld.WALStart)
			}
			if err != nil {
				t.Fatal(err)
			}
		}
		recs, err := st.t.q.Take(t.Context(), 1000, time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		return recs
	}
	fast, slow := run(true), run(false)
	// c, c, u, the key change (d, tombstone, c), d, tombstone
	if len(fast) != len(slow) || len(fast) != 8 {
		t.Fatalf("fast path %d records, pglogrepl path %d", len(fast), len(slow))
	}
	for i := range fast {
		f, w := fast[i], slow[i]
		if f.Topic != w.Topic || !reflect.DeepEqual(f.Key, w.Key) || !reflect.DeepEqual(f.Headers, w.Headers) {
			t.Fatalf("record %d: key %v / %v, headers %v / %v", i, f.Key, w.Key, f.Headers, w.Headers)
		}
		if (f.Value == nil) != (w.Value == nil) {
			t.Fatalf("record %d: value %v / %v", i, f.Value, w.Value)
		}
		if f.Value == nil {
			continue
		}
		fe, we := f.Value.(*connect.Struct), w.Value.(*connect.Struct)
		for _, fld := range []int{envBefore, envAfter, envOp} {
			if !reflect.DeepEqual(fe.GetAt(fld), we.GetAt(fld)) {
				t.Fatalf("record %d field %d: %v / %v", i, fld, fe.GetAt(fld), we.GetAt(fld))
			}
		}
		fs, ws := fe.GetAt(envSource).(*connect.Struct), we.GetAt(envSource).(*connect.Struct)
		for _, fld := range []int{debezium.SourceVersion, debezium.SourceConnector, debezium.SourceName, srcSnapshot, debezium.SourceDB, srcSequence, srcSchema, srcTable, srcTxID, srcLSN} {
			if !reflect.DeepEqual(fs.GetAt(fld), ws.GetAt(fld)) {
				t.Fatalf("record %d source field %d: %v / %v", i, fld, fs.GetAt(fld), ws.GetAt(fld))
			}
		}
		if err := fe.Validate(); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		for _, k := range []string{offLSN, offTxID, offLSNCommit, offLSNProc, offTxEvent} {
			if !reflect.DeepEqual(f.SourceOffset[k], w.SourceOffset[k]) {
				t.Fatalf("record %d offset %s: %v / %v", i, k, f.SourceOffset[k], w.SourceOffset[k])
			}
		}
	}
	if got := fast[0].Value.(*connect.Struct).GetAt(envAfter).(*connect.Struct).String(); got != "Struct{id=1,a=42,b=row number 1,c=2024-03-01T12:00:00.5Z,d=0.01}" {
		t.Fatalf("first insert: %s", got)
	}
}
