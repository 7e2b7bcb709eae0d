package postgres

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// A hand-written decoder of the pgoutput messages that make up nearly all of
// the stream: Begin, Commit, Insert, Update and Delete outside streamed
// blocks. pglogrepl.Parse allocates a message, a TupleData, and a column
// struct and a copy of the data for every column of every row; this decoder
// fills reusable slices that point into the WAL data instead, which stays
// valid until the next receive, long enough to decode the row. The other
// messages (Relation, Type, Origin, logical decoding messages, Truncate and
// everything of protocol 2's streamed transactions) still go through
// pglogrepl. The data comes from the server, so every length is checked: a
// malformed message is an error, never a panic.

// pgEpochMicros is 2000-01-01 00:00:00 UTC, PostgreSQL's epoch, in
// microseconds since the Unix epoch.
const pgEpochMicros = 946684800 * 1000000

var (
	errShortMessage = errors.New("message too short")
	errTupleLength  = errors.New("tuple column length exceeds the message")
)

// pgTime converts a pgoutput timestamp (microseconds since 2000-01-01) to a
// time.Time as pglogrepl does.
func pgTime(us int64) time.Time { return time.Unix(0, (pgEpochMicros+us)*1000) }

// walBegin is a decoded Begin message.
type walBegin struct {
	finalLSN uint64
	time     time.Time
	xid      uint32
}

// decodeBegin decodes a Begin message; b starts with its 'B'.
func decodeBegin(b []byte) (walBegin, error) {
	if len(b) < 21 {
		return walBegin{}, fmt.Errorf("Begin: %w (%d bytes)", errShortMessage, len(b))
	}
	return walBegin{
		finalLSN: binary.BigEndian.Uint64(b[1:]),
		time:     pgTime(int64(binary.BigEndian.Uint64(b[9:]))),
		xid:      binary.BigEndian.Uint32(b[17:]),
	}, nil
}

// walCommit is a decoded Commit message.
type walCommit struct {
	flags     byte
	commitLSN uint64
	endLSN    uint64
	time      time.Time
}

// decodeCommit decodes a Commit message; b starts with its 'C'.
func decodeCommit(b []byte) (walCommit, error) {
	if len(b) < 26 {
		return walCommit{}, fmt.Errorf("Commit: %w (%d bytes)", errShortMessage, len(b))
	}
	return walCommit{
		flags:     b[1],
		commitLSN: binary.BigEndian.Uint64(b[2:]),
		endLSN:    binary.BigEndian.Uint64(b[10:]),
		time:      pgTime(int64(binary.BigEndian.Uint64(b[18:]))),
	}, nil
}

// walTuple is a decoded TupleData: each column's kind (n null, u unchanged
// TOAST, t text, b binary) and data, which points into the message.
type walTuple struct {
	present bool
	kinds   []byte
	data    [][]byte
}

// decode reads a TupleData from b and returns the rest of b.
func (t *walTuple) decode(b []byte) ([]byte, error) {
	t.present = true
	t.kinds, t.data = t.kinds[:0], t.data[:0]
	if len(b) < 2 {
		return nil, fmt.Errorf("TupleData: %w", errShortMessage)
	}
	n := int(binary.BigEndian.Uint16(b))
	b = b[2:]
	if cap(t.kinds) < n {
		t.kinds = make([]byte, 0, n)
		t.data = make([][]byte, 0, n)
	}
	for i := 0; i < n; i++ {
		if len(b) < 1 {
			return nil, fmt.Errorf("TupleData column %d of %d: %w", i, n, errShortMessage)
		}
		kind := b[0]
		b = b[1:]
		switch kind {
		case kindNull, kindToast:
			t.kinds = append(t.kinds, kind)
			t.data = append(t.data, nil)
		case kindText, 'b':
			if len(b) < 4 {
				return nil, fmt.Errorf("TupleData column %d of %d: %w", i, n, errShortMessage)
			}
			l := binary.BigEndian.Uint32(b)
			b = b[4:]
			if uint64(l) > uint64(len(b)) {
				return nil, fmt.Errorf("TupleData column %d of %d: %w (%d > %d)", i, n, errTupleLength, l, len(b))
			}
			t.kinds = append(t.kinds, kind)
			t.data = append(t.data, b[:l:l])
			b = b[l:]
		default:
			return nil, fmt.Errorf("TupleData column %d of %d: unknown kind %q", i, n, kind)
		}
	}
	return b, nil
}

// walChange is a decoded Insert, Update or Delete message, reused from one
// message to the next.
type walChange struct {
	op    byte // 'I', 'U' or 'D'
	relID uint32
	old   walTuple // the K (key) or O (old row) tuple, if present
	new   walTuple // the N tuple, if present
}

// decode decodes an Insert, Update or Delete message (protocol 1, or
// protocol 2 outside a streamed block: no xid); b starts with its type byte.
func (c *walChange) decode(b []byte) error {
	c.old.present, c.new.present = false, false
	if len(b) < 6 {
		return fmt.Errorf("change: %w (%d bytes)", errShortMessage, len(b))
	}
	c.op = b[0]
	c.relID = binary.BigEndian.Uint32(b[1:])
	tag := b[5]
	rest := b[6:]
	var err error
	switch c.op {
	case 'I':
		if tag != 'N' {
			return fmt.Errorf("Insert: tuple type %q, want N", tag)
		}
		_, err = c.new.decode(rest)
	case 'U':
		if tag == 'K' || tag == 'O' {
			if rest, err = c.old.decode(rest); err != nil {
				return fmt.Errorf("Update old tuple: %w", err)
			}
			if len(rest) < 1 {
				return fmt.Errorf("Update: %w", errShortMessage)
			}
			tag, rest = rest[0], rest[1:]
		}
		if tag != 'N' {
			return fmt.Errorf("Update: tuple type %q, want K, O or N", tag)
		}
		_, err = c.new.decode(rest)
	case 'D':
		if tag != 'K' && tag != 'O' {
			return fmt.Errorf("Delete: tuple type %q, want K or O", tag)
		}
		_, err = c.old.decode(rest)
	default:
		return fmt.Errorf("message type %q is not a change", c.op)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", changeName(c.op), err)
	}
	return nil
}

func changeName(op byte) string {
	switch op {
	case 'I':
		return "Insert"
	case 'U':
		return "Update"
	}
	return "Delete"
}
