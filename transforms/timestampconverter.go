package transforms

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
)

// TimestampConverter converts a timestamp field, or a whole key or value,
// between a formatted string (java.text.SimpleDateFormat pattern, UTC), a
// Unix epoch number (unix.precision), and the Date, Time and Timestamp
// logical types.
type TimestampConverter struct {
	base
	field     string
	target    string // string, unix, Date, Time, Timestamp
	format    *javaDateFormat
	precision string
	formatStr string // format
	get       fieldGetter
	cache     schemaCache[*tsPlan]
}

type tsPlan struct {
	schema *connect.Schema
	index  int
}

var timestampConverterBinding = config.Bind(
	config.StringField(config.Key{Name: "field", Default: "", Importance: config.High,
		Doc: "The field containing the timestamp, or empty if the entire value is a timestamp."},
		func(t *TimestampConverter) *string { return &t.field }),
	config.StringField(config.Key{Name: "target.type", Required: true, Validator: config.OneOf("string", "unix", "Date", "Time", "Timestamp"),
		Importance: config.High, Doc: "The desired timestamp representation: string, unix, Date, Time, or Timestamp."},
		func(t *TimestampConverter) *string { return &t.target }),
	config.StringField(config.Key{Name: "format", Default: "", Validator: dateFormatValidator(), Importance: config.Medium,
		Doc: "A SimpleDateFormat-compatible format for the timestamp. Used to generate the output when type=string or used to parse the input if the input is a string."},
		func(t *TimestampConverter) *string { return &t.formatStr }),
	config.StringField(config.Key{Name: "unix.precision", Default: "milliseconds",
		Validator: config.OneOf("nanoseconds", "microseconds", "milliseconds", "seconds"), Importance: config.Low,
		Doc: "The desired Unix precision for the timestamp: seconds, milliseconds, microseconds, or nanoseconds. Used to generate the output when type=unix or used to parse the input if the input is a Long."},
		func(t *TimestampConverter) *string { return &t.precision }),
	replaceNull(func(t *TimestampConverter) *fieldGetter { return &t.get }),
)

// NewTimestampConverter returns an unconfigured TimestampConverter$Key or $Value.
func NewTimestampConverter(op Operand) *TimestampConverter {
	return &TimestampConverter{base: base{name: "TimestampConverter" + op.suffix(), op: op}}
}

// Config returns the keys of Kafka Connect's TimestampConverter.
func (*TimestampConverter) Config() *config.Def { return timestampConverterBinding.Def() }

// Configure reads the target type and format.
func (t *TimestampConverter) Configure(props map[string]string) error {
	if _, err := configure(t.name, timestampConverterBinding, props, t); err != nil {
		return err
	}
	t.format = nil
	if f := t.formatStr; f != "" {
		t.format, _ = parseJavaDateFormat(f) // checked by the validator
	} else if t.target == "string" {
		return configError(t.name, "format", "", "TimestampConverter requires format option to be specified when using string timestamps")
	}
	t.cache = schemaCache[*tsPlan]{}
	return nil
}

// ValidateConfig reports a string target without a format.
func (t *TimestampConverter) ValidateConfig(props map[string]string, infos *config.Infos) {
	if strings.EqualFold(props["target.type"], "string") && props["format"] == "" {
		infos.AddError("format", "TimestampConverter requires format option to be specified when using string timestamps")
	}
}

func (t *TimestampConverter) targetSchema(opt bool) *connect.Schema {
	var s *connect.Schema
	switch t.target {
	case "string":
		s = connect.StringSchema
	case "unix":
		s = connect.Int64Schema
	case "Date":
		s = connect.DateSchema()
	case "Time":
		s = connect.TimeSchema()
	default:
		s = connect.TimestampSchema()
	}
	if opt {
		s = optional(s)
	}
	return s
}

// Apply converts; a nil value stays nil.
func (t *TimestampConverter) Apply(rec *connect.Record) (*connect.Record, error) {
	s, v := t.operand(rec)
	if t.field == "" {
		var os *connect.Schema
		if s != nil {
			os = t.targetSchema(s.Optional)
		}
		if v == nil {
			if s == nil {
				return rec, nil
			}
			return t.with(rec, os, nil), nil
		}
		out, err := t.convert(s, v)
		if err != nil {
			return nil, t.errorf(rec, "", "%v", err)
		}
		return t.with(rec, os, out), nil
	}
	if v == nil {
		return rec, nil
	}
	if s == nil {
		m, ok := requireMap(v)
		if !ok {
			return nil, t.errorf(rec, "", "only a map is supported for a schemaless %s, got %T", t.what(), v)
		}
		x, present := m[t.field]
		if !present {
			return rec, nil
		}
		if x != nil {
			c, err := t.convert(nil, x)
			if err != nil {
				return nil, t.errorf(rec, t.field, "%v", err)
			}
			x = c
		}
		out := make(map[string]any, len(m))
		for k, y := range m {
			out[k] = y
		}
		out[t.field] = x
		return t.with(rec, nil, out), nil
	}
	st, ok := requireStruct(v)
	if !ok {
		return nil, t.errorf(rec, "", "only a struct is supported for a %s with a schema, got %T", t.what(), v)
	}
	plan, ok := t.cache.get(st.Schema())
	if !ok {
		f, found := st.Schema().Field(t.field)
		if !found {
			return nil, t.errorf(rec, t.field, "field does not exist in schema %s", st.Schema())
		}
		fields := append([]connect.Field(nil), st.Schema().Fields...)
		fields[f.Index] = connect.F(f.Name, t.targetSchema(f.Schema.Optional))
		ns, err := newStructSchema(st.Schema(), fields)
		if err != nil {
			return nil, t.errorf(rec, "", "%v", err)
		}
		plan = &tsPlan{schema: ns, index: f.Index}
		t.cache.put(st.Schema(), plan)
	}
	out := connect.NewStruct(plan.schema)
	for i := range plan.schema.Fields {
		x := t.get.at(st, i)
		if i == plan.index && x != nil {
			c, err := t.convert(st.Schema().Fields[i].Schema, x)
			if err != nil {
				return nil, t.errorf(rec, t.field, "%v", err)
			}
			x = c
		}
		out.SetAt(i, x)
	}
	return t.with(rec, plan.schema, out), nil
}

func (t *TimestampConverter) convert(s *connect.Schema, x any) (any, error) {
	ts, err := t.instant(s, x)
	if err != nil {
		return nil, err
	}
	switch t.target {
	case "string":
		return t.format.format(ts), nil
	case "unix":
		switch t.precision {
		case "seconds":
			return ts.Unix(), nil
		case "microseconds":
			return ts.UnixMicro(), nil
		case "nanoseconds":
			return ts.UnixNano(), nil
		}
		return ts.UnixMilli(), nil
	case "Date":
		return time.Date(ts.Year(), ts.Month(), ts.Day(), 0, 0, 0, 0, time.UTC), nil
	case "Time":
		return time.Date(1970, 1, 1, ts.Hour(), ts.Minute(), ts.Second(), ts.Nanosecond()/1e6*1e6, time.UTC), nil
	}
	return ts, nil
}

// instant reads x as a point in time (UTC).
func (t *TimestampConverter) instant(s *connect.Schema, x any) (time.Time, error) {
	if s != nil {
		switch s.Name {
		case connect.DateName, connect.TimeName, connect.TimestampName:
			if tm, ok := x.(time.Time); ok {
				return tm.UTC(), nil
			}
			return time.Time{}, fmt.Errorf("expected a time.Time for %s, got %T", s, x)
		}
		switch s.Type {
		case connect.TypeInt64, connect.TypeString:
		default:
			return time.Time{}, fmt.Errorf("schema type %s is not a supported timestamp: use string, int64 or a Date, Time or Timestamp logical type", s)
		}
	}
	switch v := x.(type) {
	case time.Time:
		return v.UTC(), nil
	case string:
		if t.format == nil {
			return time.Time{}, fmt.Errorf("cannot parse the string %q: no format is configured", v)
		}
		return t.format.parse(v)
	case json.Number:
		n, err := v.Int64()
		if err != nil {
			return time.Time{}, fmt.Errorf("unix timestamp %q is not an integer", v)
		}
		return t.fromUnix(n), nil
	case int64:
		return t.fromUnix(v), nil
	case int32:
		return t.fromUnix(int64(v)), nil
	case int:
		return t.fromUnix(int64(v)), nil
	case float64: // a JSON number
		if v != math.Trunc(v) {
			return time.Time{}, fmt.Errorf("unix timestamp %s is not an integer", strconv.FormatFloat(v, 'g', -1, 64))
		}
		return t.fromUnix(int64(v)), nil
	}
	return time.Time{}, fmt.Errorf("a value of type %T is not a supported timestamp", x)
}

func (t *TimestampConverter) fromUnix(n int64) time.Time {
	switch t.precision {
	case "seconds":
		return time.Unix(n, 0).UTC()
	case "microseconds":
		return time.UnixMicro(n).UTC()
	case "nanoseconds":
		return time.Unix(0, n).UTC()
	}
	return time.UnixMilli(n).UTC()
}

// Close does nothing.
func (*TimestampConverter) Close() error { return nil }
