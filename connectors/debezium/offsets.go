package debezium

import (
	"encoding/json"
	"math"
	"strconv"
)

// OffsetInt reads an integer offset value, whatever type the offset store
// decoded it as (JSON gives float64 or json.Number, a test int64).
func OffsetInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case int:
		return int64(x), true
	case int32:
		return int64(x), true
	case uint64:
		if x > math.MaxInt64 {
			return 0, false
		}
		return int64(x), true
	case float64:
		return int64(x), true
	case json.Number:
		n, err := x.Int64()
		return n, err == nil
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		return n, err == nil
	}
	return 0, false
}
