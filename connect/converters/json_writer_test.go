package converters

import (
	"testing"

	"github.com/penstockhq/penstock/connect"
)

func TestValueWriterOverridesNestedValues(t *testing.T) {
	s := connect.NewStructSchema("r", connect.F("n", connect.Int32Schema), connect.F("f", connect.Float64Schema),
		connect.F("a", connect.ArrayOf(connect.Float64Schema)),
		connect.F("d", &connect.Schema{Type: connect.TypeString, Optional: true, Default: "x"}))
	st := connect.NewStruct(s)
	st.SetAt(0, int32(7))
	st.SetAt(1, 1.0)
	st.SetAt(2, []any{2.0})
	plain, err := NewValueWriter(nil).Append(nil, s, st)
	if err != nil || string(plain) != `{"n":7,"f":1.0,"a":[2.0],"d":"x"}` {
		t.Fatalf("JsonConverter rules: %s %v", plain, err)
	}
	w := NewValueWriter(func(w *ValueWriter, buf []byte, s *connect.Schema, v any) ([]byte, bool, error) {
		if f, ok := v.(float64); ok {
			return append(buf, []byte{'F', byte('0' + int(f))}...), true, nil
		}
		return buf, false, nil
	})
	got, err := w.Append(nil, s, st)
	if err != nil || string(got) != `{"n":7,"f":F1,"a":[F2],"d":"x"}` {
		t.Fatalf("override: %s %v", got, err)
	}
}
