package blob

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/penstockhq/penstock/connect"
)

// partitioner names the directory (Confluent's "encoded partition") of a
// record's object, as Confluent's storage partitioners do.
type partitioner interface {
	// encode returns the record's encoded partition; now is the wall clock.
	encode(rec *connect.Record, now time.Time) (string, error)
	// recordTime returns the time rotate.interval.ms measures, in Unix ms.
	recordTime(rec *connect.Record, now time.Time) (int64, error)
	// timeBased says whether a change of encoded partition ends a
	// rotate.interval.ms period (Confluent's time-based partitioners).
	timeBased() bool
	// wallclock says whether encode or recordTime read the wall clock.
	wallclock() bool
}

// errRecord marks errors caused by a record (its fields, schema or value):
// they are reported per errors.tolerance, never retried.
var errRecord = errors.New("record cannot be written")

func recordErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errRecord, fmt.Sprintf(format, args...))
}

// newPartitioner builds the partitioner partitioner.class names.
func newPartitioner(k partitionKeys, delim string) (partitioner, error) {
	switch simpleName(k.class) {
	case "defaultpartitioner", "default":
		return defaultPartitioner{}, nil
	case "fieldpartitioner", "field":
		fields := k.fields
		if len(fields) == 0 {
			return nil, (problem(PartitionFieldConfig, "[]", "FieldPartitioner needs at least one field"))
		}
		return fieldPartitioner{fields: fields, delim: delim}, nil
	case "timebasedpartitioner", "timebased":
		return newTimePartitioner(k, k.pathFormat, k.duration)
	case "dailypartitioner", "daily":
		return newTimePartitioner(k, "'year'=YYYY"+delim+"'month'=MM"+delim+"'day'=dd", 24*int64(time.Hour/time.Millisecond))
	case "hourlypartitioner", "hourly":
		return newTimePartitioner(k, "'year'=YYYY"+delim+"'month'=MM"+delim+"'day'=dd"+delim+"'hour'=HH", int64(time.Hour/time.Millisecond))
	}
	return nil, (problem(PartitionerConfig, k.class, "not a known partitioner: DefaultPartitioner, FieldPartitioner, TimeBasedPartitioner, DailyPartitioner or HourlyPartitioner"))
}

// defaultPartitioner is Confluent's DefaultPartitioner: partition=N.
type defaultPartitioner struct{}

// partitionNames are the encoded partitions of the first Kafka partitions,
// made once.
var partitionNames = func() []string {
	out := make([]string, 256)
	for i := range out {
		out[i] = "partition=" + strconv.Itoa(i)
	}
	return out
}()

func (defaultPartitioner) encode(rec *connect.Record, _ time.Time) (string, error) {
	if p := int(rec.Partition); p >= 0 && p < len(partitionNames) {
		return partitionNames[p], nil
	}
	return "partition=" + strconv.Itoa(int(rec.Partition)), nil
}
func (defaultPartitioner) recordTime(rec *connect.Record, _ time.Time) (int64, error) {
	return kafkaTime(rec)
}
func (defaultPartitioner) timeBased() bool { return false }
func (defaultPartitioner) wallclock() bool { return false }

func kafkaTime(rec *connect.Record) (int64, error) {
	if rec.Timestamp.IsZero() {
		return 0, recordErr("%s has no timestamp", where(rec))
	}
	return rec.Timestamp.UnixMilli(), nil
}

// where names a record for messages: topic, partition and offset.
func where(rec *connect.Record) string {
	return fmt.Sprintf("record %s-%d@%d", rec.Topic, rec.Partition, rec.Offset)
}

// fieldPartitioner is Confluent's FieldPartitioner: name=value per field.
type fieldPartitioner struct {
	fields []string
	delim  string
}

func (p fieldPartitioner) encode(rec *connect.Record, _ time.Time) (string, error) {
	var b strings.Builder
	for i, f := range p.fields {
		v, err := fieldValue(rec, f)
		if err != nil {
			return "", err
		}
		var s string
		switch x := v.(type) {
		case string:
			s = x
		case bool, int8, int16, int32, int64, int, float32, float64:
			s = fmt.Sprint(x)
		case nil:
			return "", recordErr("%s: partition field %q is null", where(rec), f)
		default:
			return "", recordErr("%s: partition field %q is a %T; FieldPartitioner takes strings, numbers and booleans", where(rec), f, v)
		}
		if i > 0 {
			b.WriteString(p.delim)
		}
		b.WriteString(f)
		b.WriteByte('=')
		b.WriteString(s)
	}
	return b.String(), nil
}
func (p fieldPartitioner) recordTime(rec *connect.Record, _ time.Time) (int64, error) {
	return kafkaTime(rec)
}
func (fieldPartitioner) timeBased() bool { return false }
func (fieldPartitioner) wallclock() bool { return false }

// fieldValue reads a (dotted) field of the record's value: a Struct or a
// schemaless map.
func fieldValue(rec *connect.Record, name string) (any, error) {
	v := rec.Value
	for _, part := range strings.Split(name, ".") {
		switch x := v.(type) {
		case *connect.Struct:
			if _, ok := x.Schema().Field(part); !ok {
				return nil, recordErr("%s: the value has no field %q", where(rec), name)
			}
			v = x.Get(part)
		case map[string]any:
			var ok bool
			if v, ok = x[part]; !ok {
				return nil, recordErr("%s: the value has no field %q", where(rec), name)
			}
		default:
			return nil, recordErr("%s: the value is not a struct or map, so it has no field %q", where(rec), name)
		}
	}
	return v, nil
}

// timePartitioner is Confluent's TimeBasedPartitioner (and Daily, Hourly).
type timePartitioner struct {
	format    *jodaFormat
	duration  int64
	loc       *time.Location
	extractor string
	field     string
}

func newTimePartitioner(k partitionKeys, pathFormat string, duration int64) (partitioner, error) {
	if strings.TrimSpace(pathFormat) == "" {
		return nil, (problem(PathFormatConfig, `""`, "a time-based partitioner needs path.format"))
	}
	if duration <= 0 {
		return nil, (problem(PartitionDurationConfig, duration, "a time-based partitioner needs a positive partition.duration.ms"))
	}
	f, err := parseJoda(pathFormat)
	if err != nil {
		return nil, (problem(PathFormatConfig, pathFormat, err.Error()))
	}
	tz := k.timezone
	if tz == "" {
		return nil, (problem(TimezoneConfig, `""`, "a time-based partitioner needs a time zone, e.g. UTC"))
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, (problem(TimezoneConfig, tz, err.Error()))
	}
	p := &timePartitioner{format: f, duration: duration, loc: loc, field: k.field}
	for _, e := range []string{ExtractRecord, ExtractRecordField, ExtractWallclock} {
		if strings.EqualFold(simpleName(k.extractor), strings.ToLower(e)) {
			p.extractor = e
		}
	}
	return p, nil
}

func (p *timePartitioner) recordTime(rec *connect.Record, now time.Time) (int64, error) {
	switch p.extractor {
	case ExtractRecord:
		return kafkaTime(rec)
	case ExtractRecordField:
		v, err := fieldValue(rec, p.field)
		if err != nil {
			return 0, err
		}
		switch x := v.(type) {
		case time.Time:
			return x.UnixMilli(), nil
		case int64:
			return x, nil
		case int32:
			return int64(x), nil
		case float64:
			return int64(x), nil
		case string:
			t, err := time.Parse(time.RFC3339Nano, x)
			if err != nil {
				return 0, recordErr("%s: timestamp field %q: %v", where(rec), p.field, err)
			}
			return t.UnixMilli(), nil
		}
		return 0, recordErr("%s: timestamp field %q is a %T, not a time", where(rec), p.field, v)
	}
	return now.UnixMilli(), nil
}

func (p *timePartitioner) encode(rec *connect.Record, now time.Time) (string, error) {
	ms, err := p.recordTime(rec, now)
	if err != nil {
		return "", err
	}
	// As Confluent: the start of the period the time falls in, counted in
	// local time, formatted in the zone.
	t := time.UnixMilli(ms).In(p.loc)
	_, off := t.Zone()
	local := ms + int64(off)*1000
	start := local - mod(local, p.duration)
	st := time.UnixMilli(start - int64(off)*1000).In(p.loc)
	return p.format.format(st), nil
}

func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}

func (p *timePartitioner) timeBased() bool { return true }
func (p *timePartitioner) wallclock() bool { return p.extractor == ExtractWallclock }

// jodaFormat is a parsed Joda-Time DateTimeFormat pattern.
type jodaFormat struct{ parts []jodaPart }

type jodaPart struct {
	letter byte // 0: literal
	count  int
	lit    string
}

// parseJoda parses the subset of Joda-Time patterns that paths use: quoted
// literals and the letters y Y x M d D H h k K m s S E a w e Z.
func parseJoda(p string) (*jodaFormat, error) {
	f := &jodaFormat{}
	for i := 0; i < len(p); {
		c := p[i]
		switch {
		case c == '\'':
			j := i + 1
			var lit strings.Builder
			for {
				if j >= len(p) {
					return nil, fmt.Errorf("unterminated quote at %d", i)
				}
				if p[j] == '\'' {
					if j+1 < len(p) && p[j+1] == '\'' {
						lit.WriteByte('\'')
						j += 2
						continue
					}
					break
				}
				lit.WriteByte(p[j])
				j++
			}
			if j == i+1 {
				lit.WriteByte('\'') // '' is a quote
			}
			f.parts = append(f.parts, jodaPart{lit: lit.String()})
			i = j + 1
		case (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
			if !strings.ContainsRune("yYxMdDHhkKmsSEawEeZ", rune(c)) {
				return nil, fmt.Errorf("pattern letter %q is not supported", c)
			}
			j := i
			for j < len(p) && p[j] == c {
				j++
			}
			f.parts = append(f.parts, jodaPart{letter: c, count: j - i})
			i = j
		default:
			f.parts = append(f.parts, jodaPart{lit: string(c)})
			i++
		}
	}
	return f, nil
}

func pad(n, width int) string {
	s := strconv.Itoa(n)
	for len(s) < width {
		s = "0" + s
	}
	return s
}

func (f *jodaFormat) format(t time.Time) string {
	var b strings.Builder
	for _, p := range f.parts {
		n := p.count
		switch p.letter {
		case 0:
			b.WriteString(p.lit)
		case 'y', 'Y', 'x':
			if n == 2 {
				b.WriteString(pad(t.Year()%100, 2))
			} else {
				b.WriteString(pad(t.Year(), n))
			}
		case 'M':
			switch {
			case n >= 4:
				b.WriteString(t.Month().String())
			case n == 3:
				b.WriteString(t.Month().String()[:3])
			default:
				b.WriteString(pad(int(t.Month()), n))
			}
		case 'd':
			b.WriteString(pad(t.Day(), n))
		case 'D':
			b.WriteString(pad(t.YearDay(), n))
		case 'H':
			b.WriteString(pad(t.Hour(), n))
		case 'k':
			h := t.Hour()
			if h == 0 {
				h = 24
			}
			b.WriteString(pad(h, n))
		case 'h':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			b.WriteString(pad(h, n))
		case 'K':
			b.WriteString(pad(t.Hour()%12, n))
		case 'm':
			b.WriteString(pad(t.Minute(), n))
		case 's':
			b.WriteString(pad(t.Second(), n))
		case 'S':
			b.WriteString(pad(t.Nanosecond()/1e6, 3)[:min(n, 3)])
		case 'E':
			if n >= 4 {
				b.WriteString(t.Weekday().String())
			} else {
				b.WriteString(t.Weekday().String()[:3])
			}
		case 'e':
			wd := int(t.Weekday())
			if wd == 0 {
				wd = 7
			}
			b.WriteString(pad(wd, n))
		case 'a':
			if t.Hour() < 12 {
				b.WriteString("AM")
			} else {
				b.WriteString("PM")
			}
		case 'w':
			_, w := t.ISOWeek()
			b.WriteString(pad(w, n))
		case 'Z':
			b.WriteString(t.Format("-0700"))
		}
	}
	return b.String()
}
