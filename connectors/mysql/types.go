package mysql

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connectors/debezium"
	"golang.org/x/text/encoding/charmap"
)

// Names of the semantic types only the MySQL connector uses.
const (
	nameGeometry   = "io.debezium.data.geometry.Geometry"
	precisionParam = "connect.decimal.precision"
)

// colDef is a column's definition, from the binlog's table-map metadata or
// from information_schema; both are turned into this one form.
type colDef struct {
	name      string
	dataType  string // lower-case SQL type: tinyint, varchar, datetime, enum...
	unsigned  bool
	nullable  bool
	binary    bool   // binary string (charset binary): bytes, not text
	charset   string // character set of a text column: utf8mb4, latin1...
	precision int    // DECIMAL precision, BIT length
	scale     int    // DECIMAL scale
	fsp       int    // fractional seconds of TIME, DATETIME, TIMESTAMP
	length    int    // byte length of CHAR and BINARY
	values    []string
}

// typeName is the column's type as Debezium's schema change events name it.
func (d *colDef) typeName() string {
	n := strings.ToUpper(d.dataType)
	if d.unsigned {
		n += " UNSIGNED"
	}
	return n
}

// valueKind selects a column's conversion.
type valueKind uint8

const (
	kInt valueKind = iota
	kFloat32
	kFloat64
	kDecimal
	kBool
	kBits
	kString
	kBytes
	kDate
	kTime
	kDatetime
	kTimestamp
	kYear
	kEnum
	kSet
	kJSON
	kGeometry
)

// codec converts one column's values, as the binlog decoder or the text
// protocol deliver them, into values of the column's Connect schema.
type codec struct {
	kind     valueKind
	schema   *connect.Schema // the optional or required variant, per the column
	unsigned bool
	bits     int // integer width in bits (8, 16, 24, 32, 64), BIT length
	intType  connect.Type
	scale    int32
	fsp      int
	values   []string
	boxed    []any                // values as interface values, boxed once
	latin1   bool                 // binlog bytes are latin1 (cp1252) text
	encode   func([]byte) any     // binary.handling.mode
	date     func(days int32) any // time.precision.mode's DATE value
	micros   func(us int64) any   // time.precision.mode's TIME or DATETIME value
	padTo    int                  // BINARY(n): the binlog drops trailing zero bytes, which are put back
	s        *settings
}

var geometrySchema = func() *connect.Schema {
	s := connect.NewStructSchema(nameGeometry,
		connect.F("wkb", connect.BytesSchema), connect.F("srid", connect.OptionalInt32Schema))
	s.Version = 1
	s.Doc = "Geometry"
	return s
}()

// codecFor returns the conversion of a column.
func (s *settings) codecFor(d *colDef) (codec, error) {
	c := codec{s: s, unsigned: d.unsigned, fsp: d.fsp, values: d.values}
	var sch *connect.Schema
	intSchema := func(t connect.Type, bits int) {
		c.kind, c.intType, c.bits = kInt, t, bits
		sch = &connect.Schema{Type: t}
	}
	switch d.dataType {
	case "tinyint":
		intSchema(connect.TypeInt16, 8)
	case "smallint":
		if d.unsigned {
			intSchema(connect.TypeInt32, 16)
		} else {
			intSchema(connect.TypeInt16, 16)
		}
	case "mediumint":
		intSchema(connect.TypeInt32, 24)
	case "int", "integer":
		if d.unsigned {
			intSchema(connect.TypeInt64, 32)
		} else {
			intSchema(connect.TypeInt32, 32)
		}
	case "bigint":
		intSchema(connect.TypeInt64, 64)
		if d.unsigned && s.bigintMode == "precise" {
			c.kind, c.scale = kDecimal, 0
			sch = decimalSchema(s, 20, 0)
		}
	case "float":
		c.kind, sch = kFloat32, &connect.Schema{Type: connect.TypeFloat32}
	case "double", "real":
		c.kind, sch = kFloat64, &connect.Schema{Type: connect.TypeFloat64}
	case "decimal", "numeric":
		c.kind, c.scale = kDecimal, int32(d.scale)
		sch = decimalSchema(s, d.precision, d.scale)
	case "bit":
		c.bits = max(d.precision, 1)
		if c.bits == 1 {
			c.kind, sch = kBool, &connect.Schema{Type: connect.TypeBoolean}
		} else {
			c.kind = kBits
			sch = debezium.BitsSchema(c.bits)
		}
	case "bool", "boolean":
		c.kind, sch = kBool, &connect.Schema{Type: connect.TypeBoolean}
	case "char", "varchar", "tinytext", "text", "mediumtext", "longtext":
		if d.binary {
			c.kind = kBytes
			sch, c.encode = debezium.BinarySchema(s.binaryMode)
		} else {
			c.kind, sch = kString, &connect.Schema{Type: connect.TypeString}
			c.latin1 = d.charset == "latin1"
		}
	case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
		c.kind = kBytes
		sch, c.encode = debezium.BinarySchema(s.binaryMode)
		if d.dataType == "binary" {
			c.padTo = d.length
		}
	case "json":
		c.kind, sch = kJSON, debezium.JSONSchema()
	case "date":
		c.kind = kDate
		sch, c.date = debezium.DateSchema(s.timeMode)
	case "time":
		c.kind = kTime
		sch, c.micros = debezium.TimeSchema(s.timeMode, d.fsp)
	case "datetime":
		c.kind = kDatetime
		sch, c.micros = debezium.TimestampSchema(s.timeMode, d.fsp)
	case "timestamp":
		c.kind, sch = kTimestamp, debezium.ZonedTimestampSchema()
	case "year":
		c.kind, sch = kYear, debezium.YearSchema()
	case "enum":
		c.kind, sch = kEnum, debezium.EnumSchema(d.values)
		c.boxed = make([]any, len(d.values))
		for i, v := range d.values {
			c.boxed[i] = v
		}
	case "set":
		c.kind = kSet
		sch = debezium.EnumSetSchema(d.values)
	case "geometry", "point", "linestring", "polygon", "multipoint", "multilinestring", "multipolygon",
		"geometrycollection", "geomcollection":
		c.kind, sch = kGeometry, geometrySchema
	default:
		return c, fmt.Errorf("column %s: unsupported type %s", d.name, d.dataType)
	}
	if d.nullable {
		sch = connect.OptionalOf(sch)
	}
	c.schema = sch
	return c, nil
}

func decimalSchema(s *settings, precision, scale int) *connect.Schema {
	switch s.decimalMode {
	case "double":
		return &connect.Schema{Type: connect.TypeFloat64}
	case "string":
		return &connect.Schema{Type: connect.TypeString}
	}
	sch := connect.DecimalSchema(int32(scale))
	if precision > 0 {
		sch.Parameters[precisionParam] = strconv.Itoa(precision)
	}
	return sch
}

// convert turns one value into the column's Connect value. v is nil, an
// integer, a float, a string, a byte slice or a time.Time: what go-mysql's
// binlog decoder returns (integers with the signed interpretation of their
// width, DATETIME and TIMESTAMP as time.Time unless they are zero dates,
// other temporal values as strings, ENUM and SET as numbers), or what the text protocol
// returns (int64, uint64, float64 or the text as bytes). fromBinlog tells
// which, for text in a character set other than UTF-8.
func (c *codec) convert(v any, fromBinlog bool, a *structArena) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch c.kind {
	case kInt:
		if c.same(v) {
			return v, nil // already the schema's type: no new box
		}
		u, neg, err := c.integer(v)
		if err != nil {
			return nil, err
		}
		switch c.intType {
		case connect.TypeInt16:
			if neg {
				return int16(-int64(u)), nil
			}
			return int16(u), nil
		case connect.TypeInt32:
			if neg {
				return int32(-int64(u)), nil
			}
			return int32(u), nil
		}
		if neg {
			return -int64(u), nil
		}
		return int64(u), nil // BIGINT UNSIGNED in long mode wraps above 2^63-1, as Debezium's
	case kFloat32:
		switch x := v.(type) {
		case float32:
			return x, nil
		case float64:
			return float32(x), nil
		}
		f, err := strconv.ParseFloat(text(v), 32)
		return float32(f), err
	case kFloat64:
		switch x := v.(type) {
		case float64:
			return x, nil
		case float32:
			return float64(x), nil
		}
		return strconv.ParseFloat(text(v), 64)
	case kDecimal:
		return c.decimal(v, a)
	case kBool:
		n, err := c.bitValue(v)
		return n != 0, err
	case kBits:
		n, err := c.bitValue(v)
		if err != nil {
			return nil, err
		}
		return c.bitsValue(n), nil
	case kString:
		if fromBinlog && c.latin1 {
			return latin1Text(text(v))
		}
		if _, ok := v.(string); ok {
			return v, nil // go-mysql's own string: no new box
		}
		return text(v), nil
	case kJSON:
		if b, ok := v.([]byte); ok && len(b) == 0 {
			return "null", nil
		}
		if _, ok := v.(string); ok {
			return v, nil
		}
		return text(v), nil
	case kBytes:
		return c.bytesValue(raw(v)), nil
	case kDate:
		days, zero, err := parseDate(text(v))
		if err != nil {
			return nil, err
		}
		if zero {
			return c.zero(), nil
		}
		return c.date(int32(days)), nil
	case kTime:
		us, err := parseTimeMicros(text(v))
		if err != nil {
			return nil, err
		}
		return c.micros(us), nil
	case kDatetime:
		if t, ok := v.(time.Time); ok { // go-mysql's DATETIME, in UTC
			return c.micros(t.UnixMicro()), nil
		}
		us, zero, err := parseDatetimeMicros(text(v))
		if err != nil {
			return nil, err
		}
		if zero {
			return c.zero(), nil
		}
		return c.micros(us), nil
	case kTimestamp:
		if t, ok := v.(time.Time); ok { // go-mysql's TIMESTAMP, an instant
			return formatZoned(t.UnixMicro(), c.fsp), nil
		}
		us, zero, err := parseDatetimeMicros(text(v))
		if err != nil {
			return nil, err
		}
		if zero {
			return c.zeroTimestamp(), nil
		}
		return formatZoned(us, c.fsp), nil
	case kYear:
		switch x := v.(type) {
		case int:
			return int32(x), nil
		case int64:
			return int32(x), nil
		case uint64:
			return int32(x), nil
		}
		n, err := strconv.Atoi(text(v))
		return int32(n), err
	case kEnum:
		switch x := v.(type) {
		case int64:
			return c.enumValue(x), nil
		}
		return text(v), nil
	case kSet:
		if x, ok := v.(int64); ok {
			return c.setValue(x), nil
		}
		return text(v), nil
	case kGeometry:
		return c.geometry(raw(v))
	}
	return nil, fmt.Errorf("unknown value kind %d", c.kind)
}

// bitsValue is a BIT(n>1) value: its bytes, least significant first.
func (c *codec) bitsValue(n uint64) []byte {
	out := make([]byte, (c.bits+7)/8)
	for i := range out {
		out[i] = byte(n >> (8 * i))
	}
	return out
}

// bytesValue is a binary string's value in binary.handling.mode, on a copy
// of b (BINARY(n) padded back to n bytes).
func (c *codec) bytesValue(b []byte) any {
	if len(b) < c.padTo {
		b = append(append(make([]byte, 0, c.padTo), b...), make([]byte, c.padTo-len(b))...)
	}
	return c.encode(bytes.Clone(b))
}

// latin1Text decodes a latin1 (cp1252) string.
func latin1Text(s string) (any, error) {
	return charmap.Windows1252.NewDecoder().String(s)
}

// zeroTimestamp is the value of a zero TIMESTAMP: null when the column
// allows it, else the epoch.
func (c *codec) zeroTimestamp() any {
	if c.schema.Optional {
		return nil
	}
	return formatZoned(0, c.fsp)
}

// enumValue is the ENUM value of index n (1-based; 0 and out of range: the
// empty string MySQL stores for an invalid value).
func (c *codec) enumValue(n int64) any {
	if n <= 0 || int(n) > len(c.boxed) {
		return ""
	}
	return c.boxed[n-1]
}

// setValue is the SET value of the member bits n.
func (c *codec) setValue(n int64) string {
	var parts []string
	for i, val := range c.values {
		if n&(1<<i) != 0 {
			parts = append(parts, val)
		}
	}
	return strings.Join(parts, ",")
}

// geometry is Debezium's Geometry struct of a value: SRID (4 bytes, little
// endian), then WKB.
func (c *codec) geometry(b []byte) (any, error) {
	if len(b) < 4 {
		return nil, fmt.Errorf("geometry value of %d bytes", len(b))
	}
	st := connect.NewStruct(c.schema)
	st.SetAt(0, append([]byte(nil), b[4:]...))
	st.SetAt(1, int32(binary.LittleEndian.Uint32(b[:4])))
	return st, nil
}

// same reports whether the integer v already has the Go type and
// interpretation of the column's schema, so convert can return it as is:
// go-mysql's int32 of a signed INT, its int64 of a signed BIGINT.
func (c *codec) same(v any) bool {
	if c.unsigned {
		return false
	}
	switch v.(type) {
	case int32:
		return c.intType == connect.TypeInt32 && c.bits == 32
	case int64:
		return c.intType == connect.TypeInt64
	}
	return false
}

// zero is the value of a zero date: null when the column allows it, else
// the epoch, as Debezium's.
func (c *codec) zero() any {
	if c.schema.Optional {
		return nil
	}
	if c.kind == kDate {
		return c.date(0)
	}
	return c.micros(0)
}

// integer returns the magnitude and sign of an integer value.
func (c *codec) integer(v any) (uint64, bool, error) {
	var n int64
	switch x := v.(type) {
	case int8:
		if c.unsigned {
			return uint64(uint8(x)), false, nil
		}
		n = int64(x)
	case int16:
		if c.unsigned {
			return uint64(uint16(x)), false, nil
		}
		n = int64(x)
	case int32:
		if c.unsigned {
			if c.bits == 24 {
				return uint64(uint32(x) & 0xFFFFFF), false, nil
			}
			return uint64(uint32(x)), false, nil
		}
		n = int64(x)
	case int64:
		if c.unsigned {
			return uint64(x), false, nil
		}
		n = x
	case uint64:
		return x, false, nil
	case int:
		n = int64(x)
	default:
		s := text(v)
		if c.unsigned {
			u, err := strconv.ParseUint(s, 10, 64)
			return u, false, err
		}
		var err error
		if n, err = strconv.ParseInt(s, 10, 64); err != nil {
			return 0, false, err
		}
	}
	if n < 0 {
		return uint64(-n), true, nil
	}
	return uint64(n), false, nil
}

// bitValue returns a BIT value: the binlog gives an integer, the text
// protocol the big-endian bytes.
func (c *codec) bitValue(v any) (uint64, error) {
	switch x := v.(type) {
	case int64:
		return uint64(x), nil
	case uint64:
		return x, nil
	case int8:
		return uint64(uint8(x)), nil
	}
	var n uint64
	for _, b := range raw(v) {
		n = n<<8 | uint64(b)
	}
	return n, nil
}

func (c *codec) decimal(v any, a *structArena) (any, error) {
	if c.schema.Type == connect.TypeBytes {
		if u, ok := v.(uint64); ok { // BIGINT UNSIGNED in precise mode
			return connect.Decimal{Unscaled: new(big.Int).SetUint64(u), Scale: 0}, nil
		}
		if n, ok := v.(int64); ok {
			return connect.Decimal{Unscaled: new(big.Int).SetUint64(uint64(n)), Scale: 0}, nil
		}
	}
	return decimalValue(c, text(v), a)
}

// decimalValue converts the text of a decimal number into the column's
// value in decimal.handling.mode.
func decimalValue[T string | []byte](c *codec, s T, a *structArena) (any, error) {
	switch c.schema.Type {
	case connect.TypeString:
		return string(s), nil
	case connect.TypeFloat64:
		return strconv.ParseFloat(string(s), 64)
	}
	if n, ok := smallDecimal(s, c.scale); ok {
		return connect.Decimal{Unscaled: a.bigInt(n), Scale: c.scale}, nil
	}
	d, err := connect.ParseDecimal(string(s))
	if err != nil {
		return nil, err
	}
	return d.Rescale(c.scale), nil
}

// smallDecimal reads a plain decimal of at most 18 digits with at most
// scale fraction digits as its unscaled value at scale, without big.Int
// parsing.
func smallDecimal[T string | []byte](s T, scale int32) (int64, bool) {
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	var n int64
	digits, frac, dot := 0, int32(0), false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '.' && !dot:
			dot = true
		case c >= '0' && c <= '9':
			n = n*10 + int64(c-'0')
			digits++
			if dot {
				frac++
			}
		default:
			return 0, false
		}
	}
	if digits == 0 || digits > 18 || frac > scale {
		return 0, false
	}
	for ; frac < scale; frac++ {
		if n > math.MaxInt64/10 {
			return 0, false
		}
		n *= 10
	}
	if neg {
		n = -n
	}
	return n, true
}

// text returns a string or byte slice value as a string. A byte slice (the
// text protocol's, whose buffer is reused) is copied; a string (go-mysql's
// binlog values, which share their event's packet, read into a buffer of its
// own) is not.
func text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	}
	return fmt.Sprint(v)
}

// raw returns a string or byte slice value as bytes (not copied).
func raw(v any) []byte {
	switch x := v.(type) {
	case []byte:
		return x
	case string:
		return []byte(x)
	}
	return []byte(fmt.Sprint(v))
}

// daysFromCivil returns days since 1970-01-01 of a proleptic Gregorian date.
func daysFromCivil(y, m, d int64) int64 {
	if m <= 2 {
		y--
	}
	era := debezium.FloorDiv(y, 400)
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return era*146097 + doe - 719468
}

// civilFromDays is the inverse of daysFromCivil.
func civilFromDays(z int64) (y, m, d int64) {
	z += 719468
	era := debezium.FloorDiv(z, 146097)
	doe := z - era*146097
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	y = yoe + era*400
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	d = doy - (153*mp+2)/5 + 1
	m = mp + 3
	if m > 12 {
		m -= 12
	}
	if m <= 2 {
		y++
	}
	return
}

// textValue is a value's text: a string, or the bytes of a text-protocol
// row, parsed without copying them into a string.
type textValue interface{ string | []byte }

// indexByte is strings.IndexByte over a textValue.
func indexByte[T textValue](s T, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}

func atoi[T textValue](s T) (int64, error) {
	if len(s) == 0 {
		return 0, fmt.Errorf("empty number")
	}
	var n int64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("invalid digit in %q", s)
		}
		n = n*10 + int64(c-'0')
	}
	return n, nil
}

// parseDate parses YYYY-MM-DD; zero reports a date with a zero month or day
// (MySQL's zero dates), which has no day number.
func parseDate[T textValue](s T) (days int64, zero bool, err error) {
	i := indexByte(s, '-')
	if i < 0 {
		return 0, false, fmt.Errorf("invalid date %q", s)
	}
	j := indexByte(s[i+1:], '-')
	if j < 0 {
		return 0, false, fmt.Errorf("invalid date %q", s)
	}
	j += i + 1
	var ymd [3]int64
	for k, p := range [3]T{s[:i], s[i+1 : j], s[j+1:]} {
		if ymd[k], err = atoi(p); err != nil {
			return 0, false, fmt.Errorf("invalid date %q", s)
		}
	}
	if ymd[1] == 0 || ymd[2] == 0 {
		return 0, true, nil
	}
	return daysFromCivil(ymd[0], ymd[1], ymd[2]), false, nil
}

// parseTimeMicros parses [-]H+:MM:SS[.ffffff], a duration that may be
// negative or exceed a day.
func parseTimeMicros[T textValue](s T) (int64, error) {
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	frac := int64(0)
	if i := indexByte(s, '.'); i >= 0 {
		frac = fracMicros(s[i+1:])
		s = s[:i]
	}
	i := indexByte(s, ':')
	j := -1
	if i >= 0 {
		if j = indexByte(s[i+1:], ':'); j >= 0 {
			j += i + 1
		}
	}
	if j < 0 || indexByte(s[j+1:], ':') >= 0 {
		return 0, fmt.Errorf("invalid time %q", s)
	}
	var hms [3]int64
	for k, p := range [3]T{s[:i], s[i+1 : j], s[j+1:]} {
		var err error
		if hms[k], err = atoi(p); err != nil {
			return 0, fmt.Errorf("invalid time %q", s)
		}
	}
	us := ((hms[0]*60+hms[1])*60+hms[2])*1_000_000 + frac
	if neg {
		us = -us
	}
	return us, nil
}

// fracMicros reads up to six digits of a fraction of a second.
func fracMicros[T textValue](f T) int64 {
	var us int64
	for i := 0; i < 6; i++ {
		us *= 10
		if i < len(f) && f[i] >= '0' && f[i] <= '9' {
			us += int64(f[i] - '0')
		}
	}
	return us
}

// parseDatetimeMicros parses YYYY-MM-DD HH:MM:SS[.ffffff] as microseconds
// since the epoch (UTC); zero reports a zero date.
func parseDatetimeMicros[T textValue](s T) (us int64, zero bool, err error) {
	if us, zero, ok := canonicalDatetime(s); ok {
		return us, zero, nil
	}
	date, clock := s, s[len(s):]
	if i := indexByte(s, ' '); i >= 0 {
		date, clock = s[:i], s[i+1:]
	} else if i := indexByte(s, 'T'); i >= 0 {
		date, clock = s[:i], s[i+1:]
	}
	days, zero, err := parseDate(date)
	if err != nil || zero {
		return 0, zero, err
	}
	t := int64(0)
	if len(clock) != 0 {
		if t, err = parseTimeMicros(clock); err != nil {
			return 0, false, err
		}
	}
	return days*86_400_000_000 + t, false, nil
}

// canonicalDatetime parses the form the server writes, YYYY-MM-DD
// HH:MM:SS[.ffffff], at its fixed positions: as parseDatetimeMicros does,
// in a fraction of its time. ok is false for any other form.
func canonicalDatetime[T textValue](s T) (us int64, zero, ok bool) {
	if len(s) < 19 || s[4] != '-' || s[7] != '-' || s[10] != ' ' || s[13] != ':' || s[16] != ':' ||
		len(s) > 19 && s[19] != '.' {
		return 0, false, false
	}
	var n [6]int64 // year, month, day, hour, minute, second
	for i, at := range [6]int{0, 5, 8, 11, 14, 17} {
		width := 2
		if i == 0 {
			width = 4
		}
		for j := at; j < at+width; j++ {
			c := s[j]
			if c < '0' || c > '9' {
				return 0, false, false
			}
			n[i] = n[i]*10 + int64(c-'0')
		}
	}
	if n[1] == 0 || n[2] == 0 {
		return 0, true, true
	}
	frac := int64(0)
	if len(s) > 19 {
		frac = fracMicros(s[20:])
	}
	days := daysFromCivil(n[0], n[1], n[2])
	return days*86_400_000_000 + ((n[3]*60+n[4])*60+n[5])*1_000_000 + frac, false, true
}

// formatZoned formats microseconds since the epoch as Debezium's MySQL
// connector formats TIMESTAMP(fsp) values: ISO-8601 in UTC with exactly the
// column's fractional digits (DBZ-5996), where debezium.FormatZonedTimestamp
// drops trailing zeros.
func formatZoned(us int64, fsp int) string {
	days := debezium.FloorDiv(us, 86_400_000_000)
	rem := us - days*86_400_000_000
	y, m, d := civilFromDays(days)
	sec := rem / 1_000_000
	b := make([]byte, 0, 32)
	b = appendPadded(b, y, 4)
	b = append(b, '-')
	b = appendPadded(b, m, 2)
	b = append(b, '-')
	b = appendPadded(b, d, 2)
	b = append(b, 'T')
	b = appendPadded(b, sec/3600, 2)
	b = append(b, ':')
	b = appendPadded(b, sec/60%60, 2)
	b = append(b, ':')
	b = appendPadded(b, sec%60, 2)
	if fsp > 0 {
		frac := rem % 1_000_000
		digits := strconv.AppendInt(nil, frac+1_000_000, 10)[1:]
		b = append(b, '.')
		b = append(b, digits[:min(fsp, 6)]...)
	}
	return string(append(b, 'Z'))
}

func appendPadded(b []byte, n int64, width int) []byte {
	s := strconv.FormatInt(n, 10)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}
