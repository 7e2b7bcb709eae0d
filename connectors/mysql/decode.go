package mysql

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"

	gm "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/go-mysql-org/go-mysql/utils"
	"github.com/penstockhq/penstock/connect"
)

// Rows events of captured tables are decoded here rather than by go-mysql:
// go-mysql turns every row into a []any of intermediate values (each boxed,
// DECIMAL as text, DATETIME as time.Time) that convert then turns into the
// Connect values, about ten heap allocations per row that streaming spends
// most of its time on. binlogPlan.rows reads the row images' bytes straight into
// the Connect values, with exactly what convert makes of go-mysql's value
// (the tests decode the same events both ways and compare). Columns whose
// binlog type and Connect mapping have no such reading here (MySQL's binary
// JSON, BIGINT UNSIGNED as a precise decimal) and MySQL's partial JSON
// updates leave the event to go-mysql, as before.

// pendingRows is what rowsDecoder leaves in a RowsEvent's Rows, as its one
// value, for a captured table: the undecoded row images, which the streamer
// decodes with the table's binlogPlan.
type pendingRows []byte

// pending returns the undecoded images rowsDecoder left in e.
func pending(e *replication.RowsEvent) ([]byte, bool) {
	if len(e.Rows) != 1 || len(e.Rows[0]) != 1 {
		return nil, false
	}
	p, ok := e.Rows[0][0].(pendingRows)
	return p, ok
}

// binlogCol is how one column's values are read from row images.
type binlogCol struct {
	tp     byte   // binlog type; ENUM and SET as a STRING column's metadata names them
	meta   uint16 // type metadata
	length int    // byte length of a STRING (CHAR, BINARY) column
	c      *column
	want   bool // the value is in the value or the key struct
	// share: an update's after image may reuse the before image's value when
	// the column's bytes are equal (immutable values only: not []byte or
	// structs).
	share bool
}

// binlogPlan reads the row images of one table's rows events.
type binlogPlan struct {
	types []byte   // the table-map column types it was made for
	metas []uint16 // and their metadata
	cols  []binlogCol
	ok    bool // every wanted column has a reading here
	// The before image of the update being read: each column's bytes (nil
	// when absent or NULL) and value.
	prev     [][]byte
	prevVals []any
	scratch  []byte
}

// planFor returns the plan of t's rows events whose table map is tm, made
// again when tm's column types differ from the last one's.
func (t *table) planFor(tm *replication.TableMapEvent) *binlogPlan {
	if p := t.plan; p != nil && bytes.Equal(p.types, tm.ColumnType) && slices.Equal(p.metas, tm.ColumnMeta) {
		return p
	}
	p := &binlogPlan{types: bytes.Clone(tm.ColumnType), metas: slices.Clone(tm.ColumnMeta),
		ok: len(tm.ColumnType) == len(t.cols) && len(tm.ColumnMeta) == len(t.cols)}
	if p.ok {
		p.cols = make([]binlogCol, len(t.cols))
		p.prev, p.prevVals = make([][]byte, len(t.cols)), make([]any, len(t.cols))
		for i, c := range t.cols {
			bc := &p.cols[i]
			bc.c, bc.want = c, c.valuePos >= 0 || c.keyPos >= 0
			bc.tp, bc.meta = tm.ColumnType[i], tm.ColumnMeta[i]
			if bc.tp == gm.MYSQL_TYPE_STRING {
				bc.tp, bc.length = stringType(bc.meta)
			}
			fits, known := readable(bc.tp, c.codec.kind)
			if !known || bc.want && !fits {
				p.ok = false
			}
			switch c.codec.kind {
			case kBytes, kBits, kGeometry:
			default:
				bc.share = true
			}
		}
	}
	t.plan = p
	return p
}

// stringType is the real type and byte length of a STRING column from its
// metadata, as go-mysql reads them.
func stringType(meta uint16) (byte, int) {
	if meta < 256 {
		return gm.MYSQL_TYPE_STRING, int(meta)
	}
	b0, b1 := uint8(meta>>8), uint8(meta&0xFF)
	if b0&0x30 != 0x30 {
		return b0 | 0x30, int(uint16(b1) | uint16((b0&0x30)^0x30)<<4)
	}
	return b0, int(meta & 0xFF)
}

// readable reports whether values of binlog type tp are read here into
// values of kind (fits), and whether their size is known here (known), so
// a column not wanted can be stepped over.
func readable(tp byte, kind valueKind) (fits, known bool) {
	switch tp {
	case gm.MYSQL_TYPE_TINY, gm.MYSQL_TYPE_SHORT, gm.MYSQL_TYPE_INT24, gm.MYSQL_TYPE_LONG, gm.MYSQL_TYPE_LONGLONG:
		return kind == kInt, true
	case gm.MYSQL_TYPE_FLOAT, gm.MYSQL_TYPE_DOUBLE:
		return kind == kFloat32 || kind == kFloat64, true
	case gm.MYSQL_TYPE_NEWDECIMAL:
		return kind == kDecimal, true
	case gm.MYSQL_TYPE_BIT:
		return kind == kBool || kind == kBits, true
	case gm.MYSQL_TYPE_TIMESTAMP, gm.MYSQL_TYPE_TIMESTAMP2:
		return kind == kTimestamp, true
	case gm.MYSQL_TYPE_DATETIME, gm.MYSQL_TYPE_DATETIME2:
		return kind == kDatetime, true
	case gm.MYSQL_TYPE_TIME, gm.MYSQL_TYPE_TIME2:
		return kind == kTime, true
	case gm.MYSQL_TYPE_DATE:
		return kind == kDate, true
	case gm.MYSQL_TYPE_YEAR:
		return kind == kYear, true
	case gm.MYSQL_TYPE_ENUM:
		return kind == kEnum, true
	case gm.MYSQL_TYPE_SET:
		return kind == kSet, true
	case gm.MYSQL_TYPE_BLOB:
		return kind == kBytes || kind == kString, true
	case gm.MYSQL_TYPE_GEOMETRY:
		return kind == kGeometry, true
	case gm.MYSQL_TYPE_VARCHAR, gm.MYSQL_TYPE_VAR_STRING, gm.MYSQL_TYPE_STRING:
		return kind == kString || kind == kBytes, true
	case gm.MYSQL_TYPE_JSON:
		return false, true
	}
	return false, false
}

// rows reads the row images of a rows event (data: its images,
// decompressed) into out, a pair per row for updates (update).
func (p *binlogPlan) rows(t *table, e *replication.RowsEvent, data []byte, update bool, a *structArena, out []rowValues) (_ []rowValues, err error) {
	defer func() {
		if r := recover(); r != nil { // truncated or malformed images, as go-mysql reports them
			err = fmt.Errorf("%s.%s: rows event: %v", t.db, t.name, r)
		}
	}()
	// The columns each image holds are the event's: counted once.
	count1, count2 := presentCount(e.ColumnBitmap1, len(p.cols)), 0
	if update {
		count2 = presentCount(e.ColumnBitmap2, len(p.cols))
	}
	for pos := 0; pos < len(data); {
		r, n, err := p.image(t, data[pos:], e.ColumnBitmap1, count1, a, false)
		if err != nil {
			return out, err
		}
		pos += n
		r.bytes = n
		out = append(out, r)
		if update {
			r, n, err := p.image(t, data[pos:], e.ColumnBitmap2, count2, a, true)
			if err != nil {
				return out, err
			}
			pos += n
			r.bytes = n
			out = append(out, r)
		}
	}
	return out, nil
}

// presentCount is the number of the first n columns set in present.
func presentCount(present []byte, n int) int {
	count := 0
	for i := range n {
		if isSet(present, i) {
			count++
		}
	}
	return count
}

// image reads one row image: the columns set in present (count of them), a
// NULL bitmap of those, then their values. after: the after image of an
// update, which reuses the before image's equal values.
func (p *binlogPlan) image(t *table, data []byte, present []byte, count int, a *structArena, after bool) (rowValues, int, error) {
	var r rowValues
	r.val = a.new(t.valSchema)
	if t.keySchema != nil {
		r.key = a.new(t.keySchema)
	}
	nulls := data[:(count+7)/8]
	pos, nullIndex := len(nulls), 0
	for i := range p.cols {
		bc := &p.cols[i]
		if !after {
			p.prev[i] = nil
		}
		if !isSet(present, i) {
			continue
		}
		null := isSet(nulls, nullIndex)
		nullIndex++
		if null {
			continue
		}
		n, err := valueLen(data[pos:], bc)
		if err != nil {
			return r, 0, fmt.Errorf("%s.%s column %s: %w", t.db, t.name, bc.c.def.name, err)
		}
		raw := data[pos : pos+n]
		pos += n
		if !bc.want {
			continue
		}
		var v any
		if after && bc.share && p.prev[i] != nil && bytes.Equal(p.prev[i], raw) {
			v = p.prevVals[i]
		} else {
			if v, err = p.value(bc, raw, a); err != nil {
				return r, 0, fmt.Errorf("%s.%s column %s: %w", t.db, t.name, bc.c.def.name, err)
			}
		}
		if !after {
			p.prev[i], p.prevVals[i] = raw, v
		}
		if c := bc.c; c.valuePos >= 0 {
			r.val.SetAt(c.valuePos, v)
		}
		if c := bc.c; c.keyPos >= 0 {
			r.key.SetAt(c.keyPos, v)
		}
	}
	return r, pos, nil
}

func isSet(bitmap []byte, i int) bool { return bitmap[i>>3]&(1<<(uint(i)&7)) != 0 }

// valueLen is the number of bytes of a value of bc's type at data.
func valueLen(data []byte, bc *binlogCol) (int, error) {
	meta := bc.meta
	switch bc.tp {
	case gm.MYSQL_TYPE_TINY, gm.MYSQL_TYPE_YEAR:
		return 1, nil
	case gm.MYSQL_TYPE_SHORT:
		return 2, nil
	case gm.MYSQL_TYPE_INT24, gm.MYSQL_TYPE_DATE, gm.MYSQL_TYPE_TIME:
		return 3, nil
	case gm.MYSQL_TYPE_LONG, gm.MYSQL_TYPE_FLOAT, gm.MYSQL_TYPE_TIMESTAMP:
		return 4, nil
	case gm.MYSQL_TYPE_LONGLONG, gm.MYSQL_TYPE_DOUBLE, gm.MYSQL_TYPE_DATETIME:
		return 8, nil
	case gm.MYSQL_TYPE_NEWDECIMAL:
		return decimalSize(int(meta>>8), int(meta&0xFF)), nil
	case gm.MYSQL_TYPE_BIT:
		return int((meta>>8)*8+meta&0xFF+7) / 8, nil
	case gm.MYSQL_TYPE_TIMESTAMP2:
		return int(4 + (meta+1)/2), nil
	case gm.MYSQL_TYPE_DATETIME2:
		return int(5 + (meta+1)/2), nil
	case gm.MYSQL_TYPE_TIME2:
		return int(3 + (meta+1)/2), nil
	case gm.MYSQL_TYPE_ENUM:
		switch meta & 0xFF {
		case 1, 2:
			return int(meta & 0xFF), nil
		}
		return 0, fmt.Errorf("unknown ENUM packlen=%d", meta&0xFF)
	case gm.MYSQL_TYPE_SET:
		return int(meta & 0xFF), nil
	case gm.MYSQL_TYPE_BLOB, gm.MYSQL_TYPE_GEOMETRY, gm.MYSQL_TYPE_JSON:
		if meta < 1 || meta > 4 {
			return 0, fmt.Errorf("invalid blob packlen = %d", meta)
		}
		return int(meta) + int(gm.FixedLengthInt(data[:meta])), nil
	case gm.MYSQL_TYPE_VARCHAR, gm.MYSQL_TYPE_VAR_STRING:
		return stringLen(data, int(meta)), nil
	case gm.MYSQL_TYPE_STRING:
		return stringLen(data, bc.length), nil
	}
	return 0, fmt.Errorf("binlog type %d", bc.tp)
}

// stringLen is the size of a string value of at most max bytes: its length
// prefix (one byte below 256, else two) and its bytes.
func stringLen(data []byte, max int) int {
	if max < 256 {
		return 1 + int(data[0])
	}
	return 2 + int(binary.LittleEndian.Uint16(data))
}

// blobBytes is a BLOB value's bytes without its length prefix.
func blobBytes(raw []byte, meta uint16) []byte { return raw[meta:] }

// stringBytes is a string value's bytes without its length prefix.
func stringBytes(raw []byte, max int) []byte {
	if max < 256 {
		return raw[1:]
	}
	return raw[2:]
}

var compressedBytes = [10]int{0, 1, 1, 2, 2, 3, 3, 4, 4, 4}

// decimalSize is the number of bytes of a binlog DECIMAL(precision, scale).
func decimalSize(precision, scale int) int {
	integral := precision - scale
	return integral/9*4 + compressedBytes[integral%9] + scale/9*4 + compressedBytes[scale%9]
}

// value converts the bytes raw of a non-NULL value of column bc into the
// column's Connect value: what codec.convert returns for the value go-mysql
// decodes from the same bytes (with ParseTime and UTC).
func (p *binlogPlan) value(bc *binlogCol, raw []byte, a *structArena) (any, error) {
	c := &bc.c.codec
	switch bc.tp {
	case gm.MYSQL_TYPE_TINY, gm.MYSQL_TYPE_SHORT, gm.MYSQL_TYPE_INT24, gm.MYSQL_TYPE_LONG, gm.MYSQL_TYPE_LONGLONG:
		var n int64
		switch bc.tp {
		case gm.MYSQL_TYPE_TINY:
			n = int64(int8(raw[0]))
			if c.unsigned {
				n = int64(raw[0])
			}
		case gm.MYSQL_TYPE_SHORT:
			u := binary.LittleEndian.Uint16(raw)
			n = int64(int16(u))
			if c.unsigned {
				n = int64(u)
			}
		case gm.MYSQL_TYPE_INT24:
			u := uint32(raw[0]) | uint32(raw[1])<<8 | uint32(raw[2])<<16
			n = int64(int32(u<<8) >> 8)
			if c.unsigned {
				n = int64(u)
			}
		case gm.MYSQL_TYPE_LONG:
			u := binary.LittleEndian.Uint32(raw)
			n = int64(int32(u))
			if c.unsigned {
				n = int64(u)
			}
		default:
			n = int64(binary.LittleEndian.Uint64(raw))
		}
		switch c.intType {
		case connect.TypeInt16:
			return int16(n), nil
		case connect.TypeInt32:
			return int32(n), nil
		}
		return n, nil // BIGINT UNSIGNED above 2^63-1 wraps, as convert's
	case gm.MYSQL_TYPE_FLOAT:
		f := math.Float32frombits(binary.LittleEndian.Uint32(raw))
		if c.kind == kFloat64 {
			return float64(f), nil
		}
		return f, nil
	case gm.MYSQL_TYPE_DOUBLE:
		f := math.Float64frombits(binary.LittleEndian.Uint64(raw))
		if c.kind == kFloat32 {
			return float32(f), nil
		}
		return f, nil
	case gm.MYSQL_TYPE_NEWDECIMAL:
		var err error
		p.scratch, err = appendDecimal(p.scratch[:0], raw, int(bc.meta>>8), int(bc.meta&0xFF))
		if err != nil {
			return nil, err
		}
		return decimalValue(c, p.scratch, a)
	case gm.MYSQL_TYPE_BIT:
		var n uint64
		for _, b := range raw { // big-endian
			n = n<<8 | uint64(b)
		}
		if c.kind == kBool {
			return n != 0, nil
		}
		return c.bitsValue(n), nil
	case gm.MYSQL_TYPE_TIMESTAMP:
		sec := int64(binary.LittleEndian.Uint32(raw))
		if sec == 0 {
			return c.zeroTimestamp(), nil
		}
		return formatZoned(sec*1_000_000, c.fsp), nil
	case gm.MYSQL_TYPE_TIMESTAMP2:
		sec := int64(binary.BigEndian.Uint32(raw))
		if sec == 0 {
			return c.zeroTimestamp(), nil
		}
		return formatZoned(sec*1_000_000+fraction(raw[4:], bc.meta), c.fsp), nil
	case gm.MYSQL_TYPE_DATETIME:
		v := binary.LittleEndian.Uint64(raw)
		d, t := v/1_000_000, v%1_000_000
		month, day := int64(d%10000)/100, int64(d%100)
		if v == 0 || month == 0 || day == 0 {
			return c.zero(), nil
		}
		return c.micros(civilMicros(int64(d/10000), month, day, int64(t/10000), int64(t%10000)/100, int64(t%100), 0)), nil
	case gm.MYSQL_TYPE_DATETIME2:
		intPart := int64(bigEndian(raw[:5])) - 0x8000000000
		frac := fraction(raw[5:], bc.meta)
		if intPart == 0 {
			return c.zero(), nil
		}
		tmp := intPart<<24 + frac
		if tmp < 0 {
			tmp = -tmp
		}
		ymdhms := tmp >> 24
		ymd, hms := ymdhms>>17, ymdhms%(1<<17)
		day, month, year := ymd%(1<<5), (ymd>>5)%13, (ymd>>5)/13
		if month == 0 || day == 0 {
			return c.zero(), nil
		}
		return c.micros(civilMicros(year, month, day, hms>>12, (hms>>6)%(1<<6), hms%(1<<6), frac)), nil
	case gm.MYSQL_TYPE_TIME:
		v := int64(raw[0]) | int64(raw[1])<<8 | int64(raw[2])<<16
		return c.micros(((v/10000*60+v%10000/100)*60 + v%100) * 1_000_000), nil
	case gm.MYSQL_TYPE_TIME2:
		return c.micros(time2Micros(raw, bc.meta)), nil
	case gm.MYSQL_TYPE_DATE:
		v := int64(raw[0]) | int64(raw[1])<<8 | int64(raw[2])<<16
		y, m, d := v/(16*32), v/32%16, v%32
		if m == 0 || d == 0 {
			return c.zero(), nil
		}
		return c.date(int32(daysFromCivil(y, m, d))), nil
	case gm.MYSQL_TYPE_YEAR:
		if raw[0] == 0 {
			return int32(0), nil
		}
		return int32(raw[0]) + 1900, nil
	case gm.MYSQL_TYPE_ENUM:
		n := int64(raw[0])
		if len(raw) == 2 {
			n = int64(binary.LittleEndian.Uint16(raw))
		}
		return c.enumValue(n), nil
	case gm.MYSQL_TYPE_SET:
		var n uint64
		for i := len(raw) - 1; i >= 0; i-- { // little-endian
			n = n<<8 | uint64(raw[i])
		}
		return c.setValue(int64(n)), nil
	case gm.MYSQL_TYPE_BLOB:
		return c.textOrBytes(blobBytes(raw, bc.meta), false)
	case gm.MYSQL_TYPE_GEOMETRY:
		return c.geometry(blobBytes(raw, bc.meta))
	case gm.MYSQL_TYPE_VARCHAR, gm.MYSQL_TYPE_VAR_STRING:
		return c.textOrBytes(stringBytes(raw, int(bc.meta)), true)
	case gm.MYSQL_TYPE_STRING:
		return c.textOrBytes(stringBytes(raw, bc.length), true)
	}
	return nil, fmt.Errorf("binlog type %d", bc.tp)
}

// textOrBytes converts a string or BLOB value's bytes. go-mysql gives a
// string column's value as a string sharing the event's bytes, which
// convert keeps, and a BLOB's as a []byte, which it copies into a string.
func (c *codec) textOrBytes(b []byte, shared bool) (any, error) {
	if c.kind == kBytes {
		return c.bytesValue(b), nil
	}
	if c.latin1 {
		return latin1Text(utils.ByteSliceToString(b))
	}
	if shared {
		return utils.ByteSliceToString(b), nil
	}
	return string(b), nil
}

// bigEndian reads an unsigned big-endian integer of up to 8 bytes.
func bigEndian(b []byte) uint64 {
	var n uint64
	for _, x := range b {
		n = n<<8 | uint64(x)
	}
	return n
}

// fraction reads the fractional seconds of a TIMESTAMP2 or DATETIME2 value
// of fsp digits, in microseconds.
func fraction(b []byte, fsp uint16) int64 {
	switch fsp {
	case 1, 2:
		return int64(b[0]) * 10000
	case 3, 4:
		return int64(binary.BigEndian.Uint16(b)) * 100
	case 5, 6:
		return int64(bigEndian(b[:3]))
	}
	return 0
}

// civilMicros is microseconds since the epoch of a date and time of day,
// out-of-range days and times carrying over as time.Date's do.
func civilMicros(year, month, day, hour, minute, second, micros int64) int64 {
	return daysFromCivil(year, month, day)*86_400_000_000 + ((hour*60+minute)*60+second)*1_000_000 + micros
}

// time2Micros reads a TIME2 value of fsp digits as signed microseconds,
// with go-mysql's reading of each fsp (and its field widths).
func time2Micros(b []byte, fsp uint16) int64 {
	const intOfs, ofs = 0x800000, 0x800000000000
	var tmp int64
	switch fsp {
	case 1, 2:
		intPart, frac := int64(bigEndian(b[:3]))-intOfs, int64(b[3])
		if intPart < 0 && frac != 0 { // negative values store the fraction reversed
			intPart++
			frac -= 0x100
		}
		tmp = intPart<<24 + frac*10000
	case 3, 4:
		intPart, frac := int64(bigEndian(b[:3]))-intOfs, int64(binary.BigEndian.Uint16(b[3:5]))
		if intPart < 0 && frac != 0 {
			intPart++
			frac -= 0x10000
		}
		tmp = intPart<<24 + frac*100
	case 5, 6:
		tmp = int64(bigEndian(b[:6])) - ofs
	default:
		tmp = (int64(bigEndian(b[:3])) - intOfs) << 24
	}
	neg := tmp < 0
	if neg {
		tmp = -tmp
	}
	hms := tmp >> 24
	us := (((hms>>12)%(1<<10)*60+(hms>>6)%(1<<6))*60+hms%(1<<6))*1_000_000 + truncFraction(tmp%(1<<24), fsp)
	if neg {
		return -us
	}
	return us
}

// truncFraction keeps the first fsp of the six digits of micros, as
// go-mysql's text of a TIME does.
func truncFraction(micros int64, fsp uint16) int64 {
	if fsp >= 6 {
		return micros
	}
	unit := int64(1)
	for range 6 - fsp {
		unit *= 10
	}
	return micros - micros%unit
}

// appendDecimal appends the text of the binlog DECIMAL(precision, scale)
// value raw to b, digit for digit as go-mysql writes it.
func appendDecimal(b []byte, raw []byte, precision, scale int) ([]byte, error) {
	integral := precision - scale
	uncompIntegral, uncompFractional := integral/9, scale/9
	compIntegral, compFractional := integral-uncompIntegral*9, scale-uncompFractional*9
	size := decimalSize(precision, scale)
	var buf [40]byte
	if size > len(buf) || size > len(raw) {
		return b, errors.New("invalid DECIMAL value")
	}
	data := buf[:size]
	copy(data, raw)
	var mask uint32
	if data[0]&0x80 == 0 {
		mask = math.MaxUint32
		b = append(b, '-')
	}
	data[0] ^= 0x80
	zeroLeading := true
	pos, value := decimalGroup(compIntegral, data, uint8(mask))
	if value != 0 {
		zeroLeading = false
		b = strconv.AppendUint(b, uint64(value), 10)
	}
	for range uncompIntegral {
		value = binary.BigEndian.Uint32(data[pos:]) ^ mask
		pos += 4
		if zeroLeading {
			if value != 0 {
				zeroLeading = false
				b = strconv.AppendUint(b, uint64(value), 10)
			}
		} else {
			b = appendZeroPadded(b, value, 9)
		}
	}
	if zeroLeading {
		b = append(b, '0')
	}
	if pos < len(data) {
		b = append(b, '.')
		for range uncompFractional {
			value = binary.BigEndian.Uint32(data[pos:]) ^ mask
			pos += 4
			b = appendZeroPadded(b, value, 9)
		}
		if size, value := decimalGroup(compFractional, data[pos:], uint8(mask)); size > 0 {
			b = appendZeroPadded(b, value, compFractional)
		}
	}
	return b, nil
}

// decimalGroup reads a group of digits stored in fewer than four bytes.
func decimalGroup(digits int, data []byte, mask uint8) (int, uint32) {
	size := compressedBytes[digits]
	var v uint32
	for i := range size {
		v = v<<8 | uint32(data[i]^mask)
	}
	return size, v
}

// appendZeroPadded appends v with leading zeros to width digits.
func appendZeroPadded(b []byte, v uint32, width int) []byte {
	var d [10]byte
	digits := strconv.AppendUint(d[:0], uint64(v), 10)
	for i := len(digits); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, digits...)
}
