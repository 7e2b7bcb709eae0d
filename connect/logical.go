package connect

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// Names and parameters of Kafka Connect's logical types.
const (
	DecimalName       = "org.apache.kafka.connect.data.Decimal"
	DateName          = "org.apache.kafka.connect.data.Date"
	TimeName          = "org.apache.kafka.connect.data.Time"
	TimestampName     = "org.apache.kafka.connect.data.Timestamp"
	DecimalScaleParam = "scale"
)

// DecimalSchema returns the schema of a Decimal with a fixed scale, stored as
// the big-endian two's-complement bytes of its unscaled value.
func DecimalSchema(scale int32) *Schema {
	return &Schema{Type: TypeBytes, Name: DecimalName, Version: 1,
		Parameters: map[string]string{DecimalScaleParam: strconv.Itoa(int(scale))}}
}

// DateSchema returns the schema of a date: int32 days since the Unix epoch.
func DateSchema() *Schema { return &Schema{Type: TypeInt32, Name: DateName, Version: 1} }

// TimeSchema returns the schema of a time of day: int32 milliseconds since midnight.
func TimeSchema() *Schema { return &Schema{Type: TypeInt32, Name: TimeName, Version: 1} }

// TimestampSchema returns the schema of an instant: int64 milliseconds since the Unix epoch.
func TimestampSchema() *Schema { return &Schema{Type: TypeInt64, Name: TimestampName, Version: 1} }

// Scale returns a Decimal schema's scale parameter.
func (s *Schema) Scale() (int32, error) {
	v, ok := s.Parameters[DecimalScaleParam]
	if !ok {
		return 0, fmt.Errorf("decimal schema %q has no %q parameter", s.Name, DecimalScaleParam)
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("decimal schema scale %q: %w", v, err)
	}
	return int32(n), nil
}

// Decimal is an arbitrary-precision decimal number: Unscaled × 10^-Scale.
// It is the value of the Decimal logical type.
type Decimal struct {
	Unscaled *big.Int
	Scale    int32
}

// NewDecimal returns unscaled × 10^-scale.
func NewDecimal(unscaled int64, scale int32) Decimal {
	return Decimal{Unscaled: big.NewInt(unscaled), Scale: scale}
}

// ParseDecimal parses a plain or exponent decimal literal such as "-12.340"
// or "1.5E+3"; the scale is the number of digits after the point, less the
// exponent.
func ParseDecimal(s string) (Decimal, error) {
	t := s
	exp := 0
	if i := strings.IndexAny(t, "eE"); i >= 0 {
		e, err := strconv.Atoi(t[i+1:])
		if err != nil {
			return Decimal{}, fmt.Errorf("decimal %q: bad exponent", s)
		}
		exp, t = e, t[:i]
	}
	scale := 0
	if i := strings.IndexByte(t, '.'); i >= 0 {
		scale = len(t) - i - 1
		t = t[:i] + t[i+1:]
	}
	u, ok := new(big.Int).SetString(t, 10)
	if !ok {
		return Decimal{}, fmt.Errorf("decimal %q: not a number", s)
	}
	scale -= exp
	if scale < 0 {
		u.Mul(u, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-scale)), nil))
		scale = 0
	}
	return Decimal{Unscaled: u, Scale: int32(scale)}, nil
}

// String renders the decimal in plain notation with exactly Scale digits after
// the point, as Java's BigDecimal.toPlainString does.
func (d Decimal) String() string {
	if d.Unscaled == nil {
		return "0"
	}
	digits := new(big.Int).Abs(d.Unscaled).String()
	sign := ""
	if d.Unscaled.Sign() < 0 {
		sign = "-"
	}
	if d.Scale <= 0 {
		return sign + digits + strings.Repeat("0", int(-d.Scale))
	}
	sc := int(d.Scale)
	if len(digits) <= sc {
		digits = strings.Repeat("0", sc-len(digits)+1) + digits
	}
	return sign + digits[:len(digits)-sc] + "." + digits[len(digits)-sc:]
}

// Rat returns the decimal as an exact rational number.
func (d Decimal) Rat() *big.Rat {
	r := new(big.Rat).SetInt(d.Unscaled)
	if d.Scale > 0 {
		return r.Quo(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d.Scale)), nil)))
	}
	if d.Scale < 0 {
		return r.Mul(r, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-d.Scale)), nil)))
	}
	return r
}

// Float64 returns the nearest float64 to the decimal.
func (d Decimal) Float64() float64 {
	f, _ := d.Rat().Float64()
	return f
}

// Rescale returns the decimal with the given scale, rounding half away from
// zero when digits are dropped.
func (d Decimal) Rescale(scale int32) Decimal {
	if scale == d.Scale {
		return d
	}
	u := new(big.Int).Set(d.Unscaled)
	if scale > d.Scale {
		u.Mul(u, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale-d.Scale)), nil))
		return Decimal{Unscaled: u, Scale: scale}
	}
	div := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(d.Scale-scale)), nil)
	q, r := new(big.Int).QuoRem(u, div, new(big.Int))
	if new(big.Int).Mul(new(big.Int).Abs(r), big.NewInt(2)).Cmp(div) >= 0 {
		q.Add(q, big.NewInt(int64(u.Sign())))
	}
	return Decimal{Unscaled: q, Scale: scale}
}

// DecimalBytes encodes an unscaled value as Kafka Connect does: big-endian
// two's complement in the fewest bytes.
func DecimalBytes(unscaled *big.Int) []byte {
	if unscaled.Sign() >= 0 {
		b := unscaled.Bytes()
		if len(b) == 0 || b[0]&0x80 != 0 {
			b = append([]byte{0}, b...)
		}
		return b
	}
	// Two's complement of a negative number: 2^(8n) + x for the smallest n.
	n := (unscaled.BitLen() + 8) / 8
	mod := new(big.Int).Lsh(big.NewInt(1), uint(8*n))
	b := new(big.Int).Add(mod, unscaled).Bytes()
	for len(b) < n {
		b = append([]byte{0xff}, b...)
	}
	// Drop a redundant leading 0xff byte.
	if len(b) > 1 && b[0] == 0xff && b[1]&0x80 != 0 {
		b = b[1:]
	}
	return b
}

// DecimalFromBytes decodes big-endian two's complement bytes.
func DecimalFromBytes(b []byte) *big.Int {
	u := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		u.Sub(u, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return u
}

const msPerDay = 24 * 60 * 60 * 1000

// DateDays returns the Date logical type's encoding of t: whole days since the epoch.
func DateDays(t time.Time) int32 {
	ms := t.UTC().UnixMilli()
	d := ms / msPerDay
	if ms%msPerDay < 0 {
		d--
	}
	return int32(d)
}

// DateFromDays is the inverse of DateDays.
func DateFromDays(days int32) time.Time { return time.UnixMilli(int64(days) * msPerDay).UTC() }

// TimeMillis returns the Time logical type's encoding of t: milliseconds since midnight UTC.
func TimeMillis(t time.Time) int32 {
	t = t.UTC()
	return int32((t.Hour()*3600+t.Minute()*60+t.Second())*1000 + t.Nanosecond()/1e6)
}

// TimeFromMillis is the inverse of TimeMillis, on 1970-01-01 as Kafka Connect does.
func TimeFromMillis(ms int32) time.Time { return time.UnixMilli(int64(ms)).UTC() }
