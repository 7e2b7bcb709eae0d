package debezium

import (
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"time"

	"github.com/penstockhq/penstock/connect"
	names "github.com/penstockhq/penstock/internal/debeziumnames"
)

// Values of time.precision.mode.
const (
	TimeAdaptive             = "adaptive"
	TimeAdaptiveMicroseconds = "adaptive_time_microseconds"
	TimeConnect              = "connect"
)

// Values of decimal.handling.mode.
const (
	DecimalPrecise = "precise"
	DecimalDouble  = "double"
	DecimalString  = "string"
)

// Values of binary.handling.mode.
const (
	BinaryBytes   = "bytes"
	BinaryBase64  = "base64"
	BinaryURLSafe = "base64-url-safe"
	BinaryHex     = "hex"
)

// Named returns the schema of a Debezium semantic type: physical type t,
// name one of debeziumnames', version 1.
func Named(t connect.Type, name string) *connect.Schema {
	return &connect.Schema{Type: t, Name: name, Version: 1}
}

// UUIDSchema, JSONSchema, XMLSchema, ZonedTimestampSchema, ZonedTimeSchema
// and MicroDurationSchema return the schemas of those semantic types.
func UUIDSchema() *connect.Schema           { return Named(connect.TypeString, names.UUID) }
func JSONSchema() *connect.Schema           { return Named(connect.TypeString, names.JSON) }
func XMLSchema() *connect.Schema            { return Named(connect.TypeString, names.XML) }
func ZonedTimestampSchema() *connect.Schema { return Named(connect.TypeString, names.ZonedTimestamp) }
func ZonedTimeSchema() *connect.Schema      { return Named(connect.TypeString, names.ZonedTime) }
func MicroDurationSchema() *connect.Schema  { return Named(connect.TypeInt64, names.MicroDuration) }

// YearSchema returns the schema of a year (int32), as MySQL's YEAR maps.
func YearSchema() *connect.Schema { return Named(connect.TypeInt32, names.Year) }

// BitsSchema returns the schema of a bit string of length bits, as bytes
// (little-endian, as Debezium writes BIT(n) for n > 1).
func BitsSchema(length int) *connect.Schema {
	s := Named(connect.TypeBytes, names.Bits)
	s.Parameters = map[string]string{"length": strconv.Itoa(length)}
	return s
}

// EnumSetSchema returns the schema of a set of labels (MySQL's SET): a
// comma-separated string of the chosen labels.
func EnumSetSchema(labels []string) *connect.Schema {
	s := Named(connect.TypeString, names.EnumSet)
	s.Parameters = map[string]string{"allowed": strings.Join(labels, ",")}
	return s
}

// EnumSchema returns the schema of an enumeration with the given labels.
func EnumSchema(labels []string) *connect.Schema {
	s := Named(connect.TypeString, names.Enum)
	s.Parameters = map[string]string{"allowed": strings.Join(labels, ",")}
	return s
}

// DateSchema returns the schema of a date under time.precision.mode mode and
// the function turning days since the epoch into its value.
func DateSchema(mode string) (*connect.Schema, func(days int32) any) {
	if mode == TimeConnect {
		return connect.DateSchema(), func(d int32) any { return connect.DateFromDays(d) }
	}
	return Named(connect.TypeInt32, names.Date), func(d int32) any { return d }
}

// TimeSchema returns the schema of a time of day with precision fractional
// digits under mode, and the function turning microseconds since midnight
// into its value: connect gives Kafka Connect's Time; adaptive gives Time
// (int32 ms) up to precision 3 and MicroTime (int64 µs) above;
// adaptive_time_microseconds always MicroTime.
func TimeSchema(mode string, precision int) (*connect.Schema, func(micros int64) any) {
	switch {
	case mode == TimeConnect:
		return connect.TimeSchema(), func(us int64) any { return time.UnixMicro(us).UTC() }
	case mode == TimeAdaptive && precision <= 3:
		return Named(connect.TypeInt32, names.Time), func(us int64) any { return int32(us / 1000) }
	}
	return Named(connect.TypeInt64, names.MicroTime), func(us int64) any { return us }
}

// TimestampSchema returns the schema of a timestamp without time zone with
// precision fractional digits under mode, and the function turning
// microseconds since the epoch into its value: connect gives Kafka
// Connect's Timestamp; otherwise Timestamp (int64 ms) up to precision 3 and
// MicroTimestamp (int64 µs) above.
func TimestampSchema(mode string, precision int) (*connect.Schema, func(micros int64) any) {
	switch {
	case mode == TimeConnect:
		return connect.TimestampSchema(), func(us int64) any { return time.UnixMicro(us).UTC() }
	case precision <= 3:
		return Named(connect.TypeInt64, names.Timestamp), func(us int64) any { return FloorDiv(us, 1000) }
	}
	return Named(connect.TypeInt64, names.MicroTimestamp), func(us int64) any { return us }
}

// FloorDiv is a/b rounded toward negative infinity, as times before the
// epoch need.
func FloorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// FormatZonedTimestamp renders microseconds since the epoch as Debezium's
// ZonedTimestamp: ISO 8601 in UTC with a Z and only the fraction digits
// needed.
func FormatZonedTimestamp(us int64) string {
	return time.UnixMicro(us).UTC().Format("2006-01-02T15:04:05.999999999Z")
}

// FormatZonedTime renders microseconds since midnight UTC (any value; it is
// taken modulo a day) as Debezium's ZonedTime, e.g. 10:15:30.5Z.
func FormatZonedTime(us int64) string {
	const day = 86400e6
	us = ((us % day) + day) % day
	return time.UnixMicro(us).UTC().Format("15:04:05.999999999Z")
}

// daysPerMonthAvg is Debezium's approximation of a month in MicroDuration.
const daysPerMonthAvg = 365.25 / 12.0

// MicroDuration returns Debezium's MicroDuration of an interval of months,
// days and micros: a month counts as 365.25/12 days.
func MicroDuration(months, days, micros int64) int64 {
	total := float64(months)*daysPerMonthAvg*86400e6 + float64(days)*86400e6
	return int64(total) + micros
}

var varDecimalSchema = func() *connect.Schema {
	s := connect.NewStructSchema(names.VariableScaleDecimal,
		connect.F("scale", connect.Int32Schema), connect.F("value", connect.BytesSchema))
	s.Version = 1
	s.Doc = "Variable scaled decimal"
	return s
}()

// VariableScaleDecimalSchema returns Debezium's schema of a decimal without
// a declared scale: a struct of the scale and the unscaled value's two's
// complement bytes. It is shared: do not modify it.
func VariableScaleDecimalSchema() *connect.Schema { return varDecimalSchema }

// VariableScaleDecimal returns d as a VariableScaleDecimal struct.
func VariableScaleDecimal(d connect.Decimal) *connect.Struct {
	st := connect.NewStruct(varDecimalSchema)
	st.SetAt(0, d.Scale)
	st.SetAt(1, connect.DecimalBytes(d.Unscaled))
	return st
}

// BinarySchema returns the schema of binary values under
// binary.handling.mode mode and the function encoding them.
func BinarySchema(mode string) (*connect.Schema, func([]byte) any) {
	switch mode {
	case BinaryBase64:
		return connect.StringSchema, func(b []byte) any { return base64.StdEncoding.EncodeToString(b) }
	case BinaryURLSafe:
		return connect.StringSchema, func(b []byte) any { return base64.URLEncoding.EncodeToString(b) }
	case BinaryHex:
		return connect.StringSchema, func(b []byte) any { return hex.EncodeToString(b) }
	}
	return connect.BytesSchema, func(b []byte) any { return b }
}
