package transforms

import (
	"strings"
	"time"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
)

// RegexRouter renames a record's topic: when the regex matches the whole
// topic, the topic becomes the replacement, in which $1 or ${name} refer to
// the regex's groups (Java replacement syntax, as in Kafka Connect).
type RegexRouter struct {
	regex, replacement string
	router             topicRouter
}

var regexRouterBinding = config.Bind(
	config.StringField(config.Key{Name: "regex", Required: true, Validator: regexValidator(), Importance: config.High,
		Doc: "Regular expression to use for matching."},
		func(t *RegexRouter) *string { return &t.regex }),
	config.StringField(config.Key{Name: "replacement", Required: true, Importance: config.High,
		Doc: "Replacement string."},
		func(t *RegexRouter) *string { return &t.replacement }),
)

// NewRegexRouter returns an unconfigured RegexRouter.
func NewRegexRouter() *RegexRouter { return &RegexRouter{} }

// Config returns the keys: regex and replacement.
func (*RegexRouter) Config() *config.Def { return regexRouterBinding.Def() }

// Configure compiles the regex and checks the replacement's group references.
func (t *RegexRouter) Configure(props map[string]string) error {
	if _, err := configure("RegexRouter", regexRouterBinding, props, t); err != nil {
		return err
	}
	r, err := newReplacer(t.regex, t.replacement)
	if err != nil {
		return configError("RegexRouter", "replacement", t.replacement, err.Error())
	}
	t.router = topicRouter{r: r}
	return nil
}

// ValidateConfig checks the replacement against the regex's groups.
func (t *RegexRouter) ValidateConfig(props map[string]string, infos *config.Infos) {
	validateReplacement(props, "regex", "replacement", infos)
}

func validateReplacement(props map[string]string, regexKey, replKey string, infos *config.Infos) {
	re, err := compileFull(props[regexKey])
	if err != nil {
		return // reported on the regex key
	}
	repl, ok := props[replKey]
	if !ok {
		return
	}
	if _, err := javaReplacement(repl, re); err != nil {
		infos.AddError(replKey, "Invalid value "+repl+" for configuration "+replKey+": "+err.Error())
	}
}

// Apply routes the record.
func (t *RegexRouter) Apply(rec *connect.Record) (*connect.Record, error) {
	out, _, err := t.applyOwned(rec, 0)
	return out, err
}

func (t *RegexRouter) applyOwned(rec *connect.Record, own ownership) (*connect.Record, ownership, error) {
	topic, ok := t.router.route(rec.Topic)
	if !ok || topic == rec.Topic {
		return rec, own, nil
	}
	rec, own = owned(rec, own)
	rec.Topic = topic
	return rec, own, nil
}

// Close does nothing.
func (*RegexRouter) Close() error { return nil }

// TimestampRouter routes a record to a topic named after its topic and
// timestamp, e.g. "orders-20240131", for time-partitioned sink indexes and
// tables.
type TimestampRouter struct {
	format   string
	tsSpec   string // timestamp.format
	tsFormat *javaDateFormat
	// The last day formatted: records of one period share a topic, so the
	// formatted timestamp is reused while the record time stays inside it.
	lastMilli int64
	lastTS    string
}

var timestampRouterBinding = config.Bind(
	config.StringField(config.Key{Name: "topic.format", Default: "${topic}-${timestamp}", Validator: config.NonEmpty(),
		Importance: config.High,
		Doc:        "Format string which can contain ${topic} and ${timestamp} as placeholders for the topic and timestamp, respectively."},
		func(t *TimestampRouter) *string { return &t.format }),
	config.StringField(config.Key{Name: "timestamp.format", Default: "yyyyMMdd", Validator: dateFormatValidator(),
		Importance: config.High,
		Doc:        "Format string for the timestamp that is compatible with java.text.SimpleDateFormat."},
		func(t *TimestampRouter) *string { return &t.tsSpec }),
)

// NewTimestampRouter returns an unconfigured TimestampRouter.
func NewTimestampRouter() *TimestampRouter { return &TimestampRouter{} }

// Config returns the keys: topic.format and timestamp.format.
func (*TimestampRouter) Config() *config.Def { return timestampRouterBinding.Def() }

// Configure reads the formats.
func (t *TimestampRouter) Configure(props map[string]string) error {
	if _, err := configure("TimestampRouter", timestampRouterBinding, props, t); err != nil {
		return err
	}
	f, err := parseJavaDateFormat(t.tsSpec)
	if err != nil {
		return configError("TimestampRouter", "timestamp.format", t.tsSpec, err.Error())
	}
	t.tsFormat, t.lastMilli = f, -1<<63
	return nil
}

// Apply routes the record by its timestamp; a record without one is an error.
func (t *TimestampRouter) Apply(rec *connect.Record) (*connect.Record, error) {
	if rec.Timestamp.IsZero() {
		return nil, recordErr("TimestampRouter", rec, "", "timestamp missing on record")
	}
	ms := rec.Timestamp.UnixMilli()
	ts := t.lastTS
	if ms != t.lastMilli {
		ts = t.tsFormat.format(rec.Timestamp.UTC().Truncate(time.Millisecond))
		t.lastMilli, t.lastTS = ms, ts
	}
	c := rec.Clone()
	c.Topic = strings.ReplaceAll(strings.ReplaceAll(t.format, "${topic}", rec.Topic), "${timestamp}", ts)
	return c, nil
}

// Close does nothing.
func (*TimestampRouter) Close() error { return nil }

// Filter drops every record. Used with a predicate, it drops the records the
// predicate selects (or, negated, those it does not).
type Filter struct{}

// NewFilter returns a Filter.
func NewFilter() *Filter { return &Filter{} }

// Config returns no keys.
func (*Filter) Config() *config.Def { return config.NewDef() }

// Configure accepts anything.
func (*Filter) Configure(map[string]string) error { return nil }

// Apply drops the record.
func (*Filter) Apply(*connect.Record) (*connect.Record, error) { return nil, nil }

// Close does nothing.
func (*Filter) Close() error { return nil }
