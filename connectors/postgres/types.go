package postgres

import (
	"context"
	"encoding/hex"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connectors/debezium"
)

// Built-in type OIDs (stable across PostgreSQL versions).
const (
	oidBool        = 16
	oidBytea       = 17
	oidChar        = 18
	oidName        = 19
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidText        = 25
	oidOID         = 26
	oidJSON        = 114
	oidXML         = 142
	oidFloat4      = 700
	oidFloat8      = 701
	oidMoney       = 790
	oidBpchar      = 1042
	oidVarchar     = 1043
	oidDate        = 1082
	oidTime        = 1083
	oidTimestamp   = 1114
	oidTimestamptz = 1184
	oidInterval    = 1186
	oidTimetz      = 1266
	oidNumeric     = 1700
	oidUUID        = 2950
	oidJSONB       = 3802
)

// pgType is one row of pg_type, as much as the mapping needs.
type pgType struct {
	oid       uint32
	name      string
	namespace string
	typtype   byte   // b base, e enum, d domain, c composite, r range, p pseudo
	category  byte   // A array, ...
	elem      uint32 // element type of an array
	base      uint32 // base type of a domain
	typmod    int32  // domain's typmod
	labels    []string
}

// typeMap caches pg_type; load refreshes it (types created while the
// connector runs are found on the next miss).
type typeMap struct{ byOID map[uint32]*pgType }

const typeQuery = `SELECT t.oid, t.typname, n.nspname, t.typtype, t.typcategory, t.typelem, t.typbasetype, t.typtypmod,
  coalesce((SELECT array_agg(e.enumlabel::text ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid), '{}')
FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace`

func (tm *typeMap) load(ctx context.Context, conn *pgx.Conn) error {
	rows, err := conn.Query(ctx, typeQuery)
	if err != nil {
		return fmt.Errorf("read pg_type: %w", err)
	}
	defer rows.Close()
	m := map[uint32]*pgType{}
	for rows.Next() {
		var t pgType
		var typtype, cat string
		if err := rows.Scan(&t.oid, &t.name, &t.namespace, &typtype, &cat, &t.elem, &t.base, &t.typmod, &t.labels); err != nil {
			return fmt.Errorf("read pg_type: %w", err)
		}
		if typtype != "" {
			t.typtype = typtype[0]
		}
		if cat != "" {
			t.category = cat[0]
		}
		m[t.oid] = &t
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read pg_type: %w", err)
	}
	tm.byOID = m
	return nil
}

// codec turns one column's text representation (the pgoutput and COPY text
// format) into the value of its Connect schema.
type codec struct {
	schema *connect.Schema // required variant; the column makes it optional
	decode func(b []byte) (any, error)
	// unavailable stands for an unchanged TOASTed value: the placeholder in
	// the field's physical type, or nil when the type cannot hold it.
	unavailable any
	// fast names the common types that decodeRow decodes itself into a
	// valueArena, with the same results as decode; 0 for the others.
	fast  fastKind
	scale int32 // fastDecimal's scale
}

// fastKind is a type decodeRow decodes without calling codec.decode.
type fastKind uint8

const (
	fastNone        fastKind = iota
	fastInt16                // strconv.ParseInt, 16 bits
	fastInt32                // strconv.ParseInt, 32 bits
	fastInt64                // strconv.ParseInt, 64 bits
	fastString               // the text as it is
	fastTimestamptz          // decodeTimestamptz
	fastNumeric              // a constrained numeric as connect.Decimal
)

// decodeFast decodes b as decode would, for a codec with a fast kind.
func (c *codec) decodeFast(b []byte, a *valueArena) (any, error) {
	switch c.fast {
	case fastInt64:
		n, err := strconv.ParseInt(bstr(b), 10, 64)
		if err != nil {
			return nil, err
		}
		return a.int64(n), nil
	case fastInt32:
		n, err := strconv.ParseInt(bstr(b), 10, 32)
		if err != nil {
			return nil, err
		}
		return a.int32(int32(n)), nil
	case fastInt16:
		n, err := strconv.ParseInt(bstr(b), 10, 16)
		if err != nil {
			return nil, err
		}
		return a.int16(int16(n)), nil
	case fastString:
		return a.stringOf(b), nil
	case fastTimestamptz:
		if n := len(b); n >= 22 && n <= 64 && b[4] == '-' && b[10] == ' ' && b[n-3] == '+' && b[n-2] == '0' && b[n-1] == '0' {
			// As decodeTimestamptz's fast path.
			var out [64]byte
			copy(out[:], b[:n-3])
			out[10] = 'T'
			out[n-3] = 'Z'
			return a.stringOf(out[:n-2]), nil
		}
	case fastNumeric:
		if isSpecialNumeric(b) {
			return nil, nil
		}
		if u, ok := fastDecimalUnscaled(b, c.scale); ok {
			return a.decimal(u, c.scale), nil
		}
	}
	return c.decode(b)
}

// bstr returns b as a string for parsing. It copies: a parse error (such as
// strconv's NumError) keeps the string, and b's buffer is reused.
func bstr(b []byte) string { return string(b) }

// codecFor returns the codec of a column of type oid with the modifier typmod.
func (s *settings) codecFor(tm *typeMap, oid uint32, typmod int32) codec {
	c := s.baseCodec(tm, oid, typmod, 0)
	if c.unavailable == nil {
		c.unavailable = debezium.Placeholder(c.schema, s.placeholder)
	}
	return c
}

func (s *settings) baseCodec(tm *typeMap, oid uint32, typmod int32, depth int) codec {
	switch oid {
	case oidBool:
		return codec{schema: connect.BooleanSchema, decode: func(b []byte) (any, error) {
			if len(b) == 1 && (b[0] == 't' || b[0] == 'f') {
				return b[0] == 't', nil
			}
			return nil, fmt.Errorf("boolean %q", b)
		}}
	case oidInt2:
		return codec{schema: connect.Int16Schema, fast: fastInt16, decode: func(b []byte) (any, error) {
			n, err := strconv.ParseInt(bstr(b), 10, 16)
			return int16(n), err
		}}
	case oidInt4:
		return codec{schema: connect.Int32Schema, fast: fastInt32, decode: func(b []byte) (any, error) {
			n, err := strconv.ParseInt(bstr(b), 10, 32)
			return int32(n), err
		}}
	case oidInt8, oidOID:
		return codec{schema: connect.Int64Schema, fast: fastInt64, decode: func(b []byte) (any, error) {
			return strconv.ParseInt(bstr(b), 10, 64)
		}}
	case oidFloat4:
		return codec{schema: connect.Float32Schema, decode: func(b []byte) (any, error) {
			f, err := strconv.ParseFloat(bstr(b), 32)
			return float32(f), err
		}}
	case oidFloat8:
		return codec{schema: connect.Float64Schema, decode: func(b []byte) (any, error) {
			return strconv.ParseFloat(bstr(b), 64)
		}}
	case oidText, oidVarchar, oidBpchar, oidName, oidChar:
		return codec{schema: connect.StringSchema, decode: decodeString, fast: fastString}
	case oidXML:
		return codec{schema: debezium.XMLSchema(), decode: decodeString, fast: fastString}
	case oidJSON, oidJSONB:
		return codec{schema: debezium.JSONSchema(), decode: decodeString, fast: fastString}
	case oidUUID:
		return codec{schema: debezium.UUIDSchema(), decode: decodeString, fast: fastString}
	case oidBytea:
		return s.byteaCodec()
	case oidNumeric:
		return s.numericCodec(typmod)
	case oidMoney:
		return s.moneyCodec()
	case oidDate:
		return s.dateCodec()
	case oidTime:
		return s.timeCodec(typmod)
	case oidTimetz:
		return codec{schema: debezium.ZonedTimeSchema(), decode: decodeTimetz}
	case oidTimestamp:
		return s.timestampCodec(typmod)
	case oidTimestamptz:
		return codec{schema: debezium.ZonedTimestampSchema(), decode: decodeTimestamptz, fast: fastTimestamptz}
	case oidInterval:
		return codec{schema: debezium.MicroDurationSchema(), decode: func(b []byte) (any, error) {
			return parseIntervalMicros(bstr(b))
		}}
	}
	t := tm.byOID[oid]
	if t != nil && depth < 8 {
		switch {
		case t.typtype == 'e':
			return codec{schema: debezium.EnumSchema(t.labels), decode: decodeString, fast: fastString}
		case t.typtype == 'd' && t.base != 0:
			mod := typmod
			if mod < 0 {
				mod = t.typmod
			}
			return s.baseCodec(tm, t.base, mod, depth+1)
		case t.category == 'A' && t.elem != 0:
			elem := s.baseCodec(tm, t.elem, typmod, depth+1)
			es := connect.OptionalOf(elem.schema)
			delim := byte(',')
			if t.name == "_box" {
				delim = ';'
			}
			return codec{schema: connect.ArrayOf(es), decode: func(b []byte) (any, error) {
				return parseArray(b, delim, elem.decode)
			}}
		}
	}
	// Unknown types: their text representation.
	return codec{schema: connect.StringSchema, decode: decodeString, fast: fastString}
}

func decodeString(b []byte) (any, error) { return string(b), nil }

func (s *settings) byteaCodec() codec {
	dec := func(b []byte) ([]byte, error) {
		if len(b) >= 2 && b[0] == '\\' && b[1] == 'x' {
			out := make([]byte, (len(b)-2)/2)
			_, err := hex.Decode(out, b[2:])
			return out, err
		}
		return nil, fmt.Errorf("bytea not in hex format")
	}
	sc, enc := debezium.BinarySchema(s.binaryMode)
	return codec{schema: sc, decode: func(b []byte) (any, error) {
		v, err := dec(b)
		if err != nil {
			return nil, err
		}
		return enc(v), nil
	}}
}

// numericTypmod returns a numeric column's precision and scale; ok is false
// for an unconstrained NUMERIC.
func numericTypmod(typmod int32) (precision, scale int32, ok bool) {
	if typmod < 4 {
		return 0, 0, false
	}
	m := typmod - 4
	precision = (m >> 16) & 0xffff
	scale = (((m & 0x7ff) ^ 1024) - 1024) // PostgreSQL 15 allows negative scales
	return precision, scale, true
}

// VariableScaleDecimalSchema returns Debezium's schema of an unconstrained
// NUMERIC (see debezium.VariableScaleDecimalSchema).
func VariableScaleDecimalSchema() *connect.Schema { return debezium.VariableScaleDecimalSchema() }

var varDecimalSchema = debezium.VariableScaleDecimalSchema()

func (s *settings) numericCodec(typmod int32) codec {
	precision, scale, constrained := numericTypmod(typmod)
	switch s.decimalMode {
	case debezium.DecimalDouble:
		return codec{schema: connect.Float64Schema, decode: func(b []byte) (any, error) {
			return strconv.ParseFloat(bstr(b), 64) // accepts NaN and Infinity too
		}}
	case "string":
		return codec{schema: connect.StringSchema, decode: decodeString, fast: fastString}
	}
	if !constrained {
		return codec{schema: varDecimalSchema, decode: func(b []byte) (any, error) {
			if isSpecialNumeric(b) {
				return nil, nil // NaN and infinities have no decimal representation
			}
			d, err := connect.ParseDecimal(bstr(b))
			if err != nil {
				return nil, err
			}
			return debezium.VariableScaleDecimal(d), nil
		}}
	}
	sc := connect.DecimalSchema(scale)
	sc.Parameters["connect.decimal.precision"] = strconv.Itoa(int(precision))
	return codec{schema: sc, fast: fastNumeric, scale: scale, decode: func(b []byte) (any, error) {
		if isSpecialNumeric(b) {
			return nil, nil
		}
		if d, ok := fastDecimal(b, scale); ok {
			return d, nil
		}
		d, err := connect.ParseDecimal(bstr(b))
		if err != nil {
			return nil, err
		}
		return d.Rescale(scale), nil
	}}
}

// fastDecimal parses a plain decimal of at most 18 digits at the given
// scale without big-number arithmetic; ok is false when it cannot.
func fastDecimal(b []byte, scale int32) (connect.Decimal, bool) {
	u, ok := fastDecimalUnscaled(b, scale)
	if !ok {
		return connect.Decimal{}, false
	}
	return connect.Decimal{Unscaled: big.NewInt(u), Scale: scale}, true
}

// fastDecimalUnscaled is fastDecimal's unscaled value.
func fastDecimalUnscaled(b []byte, scale int32) (int64, bool) {
	if len(b) == 0 || len(b) > 19 || scale < 0 || scale > 18 {
		return 0, false
	}
	neg := b[0] == '-'
	if neg {
		b = b[1:]
	}
	var u int64
	digits, frac := 0, int32(-1)
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			u = u*10 + int64(c-'0')
			digits++
			if frac >= 0 {
				frac++
			}
		case c == '.' && frac < 0:
			frac = 0
		default:
			return 0, false
		}
	}
	if frac < 0 {
		frac = 0
	}
	if frac > scale || digits+int(scale-frac) > 18 {
		return 0, false
	}
	for ; frac < scale; frac++ {
		u *= 10
	}
	if neg {
		u = -u
	}
	return u, true
}

func isSpecialNumeric(b []byte) bool {
	return len(b) > 0 && (b[0] == 'N' || b[0] == 'I' || (b[0] == '-' && len(b) > 1 && b[1] == 'I'))
}

func (s *settings) moneyCodec() codec {
	clean := func(b []byte) string {
		var sb strings.Builder
		neg := false
		for _, c := range b {
			switch {
			case c >= '0' && c <= '9', c == '.':
				sb.WriteByte(c)
			case c == '-', c == '(':
				neg = true
			}
		}
		if neg {
			return "-" + sb.String()
		}
		return sb.String()
	}
	switch s.decimalMode {
	case "double":
		return codec{schema: connect.Float64Schema, decode: func(b []byte) (any, error) { return strconv.ParseFloat(clean(b), 64) }}
	case "string":
		return codec{schema: connect.StringSchema, decode: func(b []byte) (any, error) { return clean(b), nil }}
	}
	sc := connect.DecimalSchema(2)
	return codec{schema: sc, decode: func(b []byte) (any, error) {
		d, err := connect.ParseDecimal(clean(b))
		if err != nil {
			return nil, err
		}
		return d.Rescale(2), nil
	}}
}

// Dates and times arrive in ISO style (DateStyle=ISO, TimeZone=UTC set on
// every connection).

func (s *settings) dateCodec() codec {
	sc, val := debezium.DateSchema(s.timeMode)
	return codec{schema: sc, decode: func(b []byte) (any, error) {
		d, err := parseDateDays(bstr(b))
		return val(int32(d)), err
	}}
}

func timePrecision(typmod int32) int {
	if typmod < 0 {
		return 6
	}
	return int(typmod)
}

func (s *settings) timeCodec(typmod int32) codec {
	sc, val := debezium.TimeSchema(s.timeMode, timePrecision(typmod))
	return codec{schema: sc, decode: func(b []byte) (any, error) {
		us, err := parseTimeMicros(bstr(b))
		return val(us), err
	}}
}

func (s *settings) timestampCodec(typmod int32) codec {
	sc, val := debezium.TimestampSchema(s.timeMode, timePrecision(typmod))
	return codec{schema: sc, decode: func(b []byte) (any, error) {
		us, err := parseTimestampMicros(bstr(b))
		return val(us), err
	}}
}

// parseDateDays parses "YYYY-MM-DD[ BC]" into days since 1970-01-01.
// infinity maps to the largest and smallest int32.
func parseDateDays(s string) (int64, error) {
	switch s {
	case "infinity":
		return math.MaxInt32, nil
	case "-infinity":
		return math.MinInt32, nil
	}
	bc := strings.HasSuffix(s, " BC")
	if bc {
		s = s[:len(s)-3]
	}
	i := strings.IndexByte(s[1:], '-') + 1
	if i <= 0 || len(s) < i+6 {
		return 0, fmt.Errorf("date %q", s)
	}
	y, err1 := strconv.Atoi(s[:i])
	m, err2 := strconv.Atoi(s[i+1 : i+3])
	d, err3 := strconv.Atoi(s[i+4 : i+6])
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, fmt.Errorf("date %q", s)
	}
	if bc {
		y = 1 - y
	}
	return daysFromCivil(int64(y), int64(m), int64(d)), nil
}

// daysFromCivil is the proleptic Gregorian day number relative to 1970-01-01.
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

// parseTimeMicros parses "HH:MM:SS[.ffffff]" into microseconds since midnight.
func parseTimeMicros(s string) (int64, error) {
	if len(s) < 8 || s[2] != ':' || s[5] != ':' {
		return 0, fmt.Errorf("time %q", s)
	}
	h, err1 := strconv.Atoi(s[0:2])
	m, err2 := strconv.Atoi(s[3:5])
	sec, err3 := strconv.Atoi(s[6:8])
	if err1 != nil || err2 != nil || err3 != nil {
		return 0, fmt.Errorf("time %q", s)
	}
	us := (int64(h)*3600+int64(m)*60+int64(sec))*1e6 + fracMicros(s[8:])
	return us, nil
}

// fracMicros parses an optional ".ffffff" prefix of s.
func fracMicros(s string) int64 {
	if len(s) == 0 || s[0] != '.' {
		return 0
	}
	var us int64
	n := 0
	for i := 1; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		if n < 6 {
			us = us*10 + int64(s[i]-'0')
			n++
		}
	}
	for ; n < 6; n++ {
		us *= 10
	}
	return us
}

// parseTimestampMicros parses "YYYY-MM-DD HH:MM:SS[.ffffff][ BC]" into
// microseconds since the epoch; infinity maps to the int64 extremes.
func parseTimestampMicros(s string) (int64, error) {
	switch s {
	case "infinity":
		return math.MaxInt64, nil
	case "-infinity":
		return math.MinInt64, nil
	}
	bc := strings.HasSuffix(s, " BC")
	if bc {
		s = s[:len(s)-3]
	}
	sp := strings.IndexByte(s, ' ')
	if sp < 0 {
		return 0, fmt.Errorf("timestamp %q", s)
	}
	datePart := s[:sp]
	if bc {
		datePart += " BC"
	}
	days, err := parseDateDays(datePart)
	if err != nil {
		return 0, fmt.Errorf("timestamp %q: %w", s, err)
	}
	tod, err := parseTimeMicros(s[sp+1:])
	if err != nil {
		return 0, fmt.Errorf("timestamp %q: %w", s, err)
	}
	return days*86400e6 + tod, nil
}

// parseOffsetSeconds parses a "+HH[:MM[:SS]]" or "-HH..." zone offset.
func parseOffsetSeconds(s string) (int64, error) {
	if len(s) < 3 || (s[0] != '+' && s[0] != '-') {
		return 0, fmt.Errorf("zone offset %q", s)
	}
	sign := int64(1)
	if s[0] == '-' {
		sign = -1
	}
	parts := strings.Split(s[1:], ":")
	var secs int64
	mult := int64(3600)
	for _, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil {
			return 0, fmt.Errorf("zone offset %q", s)
		}
		secs += int64(n) * mult
		mult /= 60
	}
	return sign * secs, nil
}

// splitZone splits "...+HH:MM" at the zone offset's sign (after position 8).
func splitZone(s string) (string, string) {
	for i := len(s) - 1; i >= 8; i-- {
		if s[i] == '+' || s[i] == '-' {
			return s[:i], s[i:]
		}
	}
	return s, ""
}

// decodeTimestamptz renders a timestamptz as Debezium's ZonedTimestamp: ISO
// 8601 in UTC with a Z and only the fraction digits needed.
func decodeTimestamptz(b []byte) (any, error) {
	// Fast path for the common output with TimeZone=UTC:
	// "YYYY-MM-DD HH:MM:SS[.ffffff]+00" becomes "YYYY-MM-DDTHH:MM:SS[.ffffff]Z"
	// (PostgreSQL already drops trailing zeros of the fraction).
	if n := len(b); n >= 22 && b[4] == '-' && b[10] == ' ' && b[n-3] == '+' && b[n-2] == '0' && b[n-1] == '0' {
		out := make([]byte, n-2)
		copy(out, b[:n-3])
		out[10] = 'T'
		out[n-3] = 'Z'
		return string(out), nil
	}
	s := string(b)
	switch s {
	case "infinity", "-infinity":
		return s, nil
	}
	bc := strings.HasSuffix(s, " BC")
	if bc {
		s = s[:len(s)-3]
	}
	local, zone := splitZone(s)
	if bc {
		local += " BC"
	}
	us, err := parseTimestampMicros(local)
	if err != nil {
		return nil, fmt.Errorf("timestamptz %q: %w", b, err)
	}
	off, err := parseOffsetSeconds(zone)
	if err != nil {
		return nil, fmt.Errorf("timestamptz %q: %w", b, err)
	}
	us -= off * 1e6
	return debezium.FormatZonedTimestamp(us), nil
}

// decodeTimetz renders a timetz as Debezium's ZonedTime: the time in UTC
// with a Z, e.g. 10:15:30.5Z.
func decodeTimetz(b []byte) (any, error) {
	local, zone := splitZone(string(b))
	us, err := parseTimeMicros(local)
	if err != nil {
		return nil, fmt.Errorf("timetz %q: %w", b, err)
	}
	off, err := parseOffsetSeconds(zone)
	if err != nil {
		return nil, fmt.Errorf("timetz %q: %w", b, err)
	}
	return debezium.FormatZonedTime(us - off*1e6), nil
}

// parseIntervalMicros parses an interval in IntervalStyle postgres, e.g.
// "1 year 2 mons -3 days 04:05:06.5", into Debezium's MicroDuration.
func parseIntervalMicros(s string) (int64, error) {
	var months, days, micros int64
	fields := strings.Fields(s)
	for i := 0; i < len(fields); i++ {
		f := fields[i]
		if strings.IndexByte(f, ':') >= 0 {
			neg := false
			if f[0] == '-' || f[0] == '+' {
				neg = f[0] == '-'
				f = f[1:]
			}
			parts := strings.SplitN(f, ":", 3)
			if len(parts) < 2 {
				return 0, fmt.Errorf("interval %q", s)
			}
			h, err1 := strconv.ParseInt(parts[0], 10, 64)
			m, err2 := strconv.ParseInt(parts[1], 10, 64)
			if err1 != nil || err2 != nil {
				return 0, fmt.Errorf("interval %q", s)
			}
			t := (h*3600 + m*60) * 1e6
			if len(parts) == 3 {
				secPart := parts[2]
				dot := strings.IndexByte(secPart, '.')
				whole := secPart
				if dot >= 0 {
					whole = secPart[:dot]
				}
				sec, err := strconv.ParseInt(whole, 10, 64)
				if err != nil {
					return 0, fmt.Errorf("interval %q", s)
				}
				t += sec * 1e6
				if dot >= 0 {
					t += fracMicros(secPart[dot:])
				}
			}
			if neg {
				t = -t
			}
			micros += t
			continue
		}
		if i+1 >= len(fields) {
			return 0, fmt.Errorf("interval %q", s)
		}
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("interval %q", s)
		}
		unit := fields[i+1]
		i++
		switch {
		case strings.HasPrefix(unit, "year"):
			months += n * 12
		case strings.HasPrefix(unit, "mon"):
			months += n
		case strings.HasPrefix(unit, "day"):
			days += n
		default:
			return 0, fmt.Errorf("interval %q: unit %q", s, unit)
		}
	}
	return debezium.MicroDuration(months, days, micros), nil
}

// parseArray parses a one-dimensional array literal such as {1,2,NULL} or
// {"a b","c\"d"} with elem decoding each element. Multi-dimensional arrays are
// flattened.
func parseArray(b []byte, delim byte, elem func([]byte) (any, error)) (any, error) {
	// Skip an optional dimension decoration "[1:3]=".
	if len(b) > 0 && b[0] == '[' {
		if i := strings.IndexByte(bstr(b), '='); i >= 0 {
			b = b[i+1:]
		}
	}
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return nil, fmt.Errorf("array literal %q", b)
	}
	out := []any{}
	var buf []byte
	i := 1
	for i < len(b)-1 {
		switch c := b[i]; {
		case c == '{' || c == '}':
			i++ // nested dimension: flatten
		case c == delim:
			i++
		case c == '"':
			buf = buf[:0]
			i++
			for i < len(b) && b[i] != '"' {
				if b[i] == '\\' && i+1 < len(b) {
					i++
				}
				buf = append(buf, b[i])
				i++
			}
			i++
			v, err := elem(buf)
			if err != nil {
				return nil, fmt.Errorf("array element: %w", err)
			}
			out = append(out, v)
		default:
			j := i
			for j < len(b)-1 && b[j] != delim && b[j] != '}' {
				j++
			}
			tok := b[i:j]
			i = j
			if string(tok) == "NULL" {
				out = append(out, nil)
				continue
			}
			v, err := elem(tok)
			if err != nil {
				return nil, fmt.Errorf("array element: %w", err)
			}
			out = append(out, v)
		}
	}
	return out, nil
}

// unscaledBig is a helper for tests: the unscaled value of a VariableScaleDecimal.
func unscaledBig(st *connect.Struct) (*big.Int, int32) {
	return connect.DecimalFromBytes(st.GetAt(1).([]byte)), st.GetAt(0).(int32)
}
