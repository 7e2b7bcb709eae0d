package converters

import (
	"encoding/base64"
	"math"
	"math/big"
	"strconv"
	"unicode/utf8"
)

const hexDigits = "0123456789ABCDEF"

// AppendJSONString appends s as a JSON string the way Kafka Connect's
// Jackson serializer writes it, for connectors that write JSON of their own
// (documents, ids) and should escape exactly as the JSON converter does: quotes and backslashes escaped, control characters
// as \b \t \n \f \r or \u00XX (upper-case hex), everything else, including
// non-ASCII, as UTF-8. Invalid UTF-8 becomes U+FFFD.
func AppendJSONString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				buf = append(buf, s[start:i]...)
				buf = append(buf, "\ufffd"...)
				i++
				start = i
				continue
			}
			i += size
			continue
		}
		buf = append(buf, s[start:i]...)
		switch c {
		case '"', '\\':
			buf = append(buf, '\\', c)
		case '\b':
			buf = append(buf, '\\', 'b')
		case '\t':
			buf = append(buf, '\\', 't')
		case '\n':
			buf = append(buf, '\\', 'n')
		case '\f':
			buf = append(buf, '\\', 'f')
		case '\r':
			buf = append(buf, '\\', 'r')
		default:
			buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}

// appendBase64 appends b as a JSON string of its standard, padded base64
// encoding, as Jackson writes binary values.
func appendBase64(buf, b []byte) []byte {
	buf = append(buf, '"')
	buf = base64.StdEncoding.AppendEncode(buf, b)
	return append(buf, '"')
}

// appendFloat appends f as Java's Double.toString (bits 64) or
// Float.toString (bits 32) renders it, which is what Kafka Connect's JSON
// converter writes: "1.0" rather than "1", "1.0E7" from 10^7 on and below
// 10^-3. NaN and infinities are written as the strings "NaN", "Infinity"
// and "-Infinity", as Jackson does by default.
func appendFloat(buf []byte, f float64, bits int) []byte {
	switch {
	case math.IsNaN(f):
		return append(buf, `"NaN"`...)
	case math.IsInf(f, 1):
		return append(buf, `"Infinity"`...)
	case math.IsInf(f, -1):
		return append(buf, `"-Infinity"`...)
	case f == 0:
		if math.Signbit(f) {
			return append(buf, "-0.0"...)
		}
		return append(buf, "0.0"...)
	}
	abs := math.Abs(f)
	if abs >= 1e-3 && abs < 1e7 {
		start := len(buf)
		buf = strconv.AppendFloat(buf, f, 'f', -1, bits)
		for _, c := range buf[start:] {
			if c == '.' {
				return buf
			}
		}
		return append(buf, '.', '0')
	}
	// Computerized scientific notation: d.dddE[-]n with at least one
	// fraction digit.
	var tmp [32]byte
	e := strconv.AppendFloat(tmp[:0], f, 'e', -1, bits) // e.g. -1.2345e+07
	i := 0
	for i < len(e) && e[i] != 'e' {
		i++
	}
	mant, exp := e[:i], e[i+1:]
	if len(mant) == 1 || (len(mant) == 2 && mant[0] == '-') {
		// Java prints at least two significant digits, choosing the
		// two-digit decimal nearest to f (4.9E-324, not 5.0E-324).
		e = strconv.AppendFloat(tmp[:0], f, 'e', 1, bits)
		i = 0
		for i < len(e) && e[i] != 'e' {
			i++
		}
		mant, exp = e[:i], e[i+1:]
		if mant[len(mant)-1] == '0' {
			mant = mant[:len(mant)-2] // d.0: the ".0" is added back below
		}
	}
	buf = append(buf, mant...)
	hasDot := false
	for _, c := range mant {
		if c == '.' {
			hasDot = true
		}
	}
	if !hasDot {
		buf = append(buf, '.', '0')
	}
	buf = append(buf, 'E')
	if exp[0] == '-' {
		buf = append(buf, '-')
	}
	exp = exp[1:]
	for len(exp) > 1 && exp[0] == '0' {
		exp = exp[1:]
	}
	return append(buf, exp...)
}

// appendBigDecimal appends unscaled × 10^-scale as Java's
// BigDecimal.toString renders it (what Jackson writes for a numeric
// Decimal): plain when the scale is not negative and the adjusted exponent
// is at least -6, otherwise scientific such as 1.56E+4 or 1E-7.
func appendBigDecimal(buf []byte, unscaled *big.Int, scale int32) []byte {
	if unscaled == nil {
		unscaled = new(big.Int)
	}
	var coeff []byte
	if unscaled.IsInt64() {
		coeff = strconv.AppendInt(nil, unscaled.Int64(), 10)
	} else {
		coeff = unscaled.Append(nil, 10)
	}
	neg := coeff[0] == '-'
	if neg {
		coeff = coeff[1:]
		buf = append(buf, '-')
	}
	adjusted := -int64(scale) + int64(len(coeff)-1)
	if scale >= 0 && adjusted >= -6 {
		if scale == 0 {
			return append(buf, coeff...)
		}
		sc := int(scale)
		if len(coeff) > sc {
			buf = append(buf, coeff[:len(coeff)-sc]...)
			buf = append(buf, '.')
			return append(buf, coeff[len(coeff)-sc:]...)
		}
		buf = append(buf, '0', '.')
		for i := len(coeff); i < sc; i++ {
			buf = append(buf, '0')
		}
		return append(buf, coeff...)
	}
	buf = append(buf, coeff[0])
	if len(coeff) > 1 {
		buf = append(buf, '.')
		buf = append(buf, coeff[1:]...)
	}
	buf = append(buf, 'E')
	if adjusted >= 0 {
		buf = append(buf, '+')
	}
	return strconv.AppendInt(buf, adjusted, 10)
}
