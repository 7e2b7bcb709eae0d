package transforms

import (
	"regexp"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
)

// TopicNameMatches is true for records whose whole topic name matches a
// regular expression.
type TopicNameMatches struct {
	pattern string
	re      *regexp.Regexp
	cache   stringCache[bool]
}

var topicNameMatchesBinding = config.Bind(
	config.StringField(config.Key{Name: "pattern", Required: true, Validator: regexValidator(), Importance: config.Medium,
		Doc: "A Java regular expression for matching against the name of a record's topic."},
		func(p *TopicNameMatches) *string { return &p.pattern }),
)

// NewTopicNameMatches returns an unconfigured TopicNameMatches.
func NewTopicNameMatches() *TopicNameMatches { return &TopicNameMatches{} }

// Config returns the key: pattern.
func (*TopicNameMatches) Config() *config.Def { return topicNameMatchesBinding.Def() }

// Configure compiles the pattern.
func (p *TopicNameMatches) Configure(props map[string]string) error {
	if _, err := configure("TopicNameMatches", topicNameMatchesBinding, props, p); err != nil {
		return err
	}
	p.re, _ = compileFull(p.pattern) // checked by the validator
	p.cache = stringCache[bool]{}
	return nil
}

// Test reports whether the record's topic matches; results are cached per topic.
func (p *TopicNameMatches) Test(rec *connect.Record) bool {
	if ok, hit := p.cache.get(rec.Topic); hit {
		return ok
	}
	ok := p.re.MatchString(rec.Topic)
	p.cache.put(rec.Topic, ok)
	return ok
}

// Close does nothing.
func (*TopicNameMatches) Close() error { return nil }

// HasHeaderKey is true for records with at least one header of a given name.
type HasHeaderKey struct{ name string }

var hasHeaderKeyBinding = config.Bind(
	config.StringField(config.Key{Name: "name", Required: true, Validator: config.NonEmpty(), Importance: config.Medium,
		Doc: "The header name."},
		func(p *HasHeaderKey) *string { return &p.name }),
)

// NewHasHeaderKey returns an unconfigured HasHeaderKey.
func NewHasHeaderKey() *HasHeaderKey { return &HasHeaderKey{} }

// Config returns the key: name.
func (*HasHeaderKey) Config() *config.Def { return hasHeaderKeyBinding.Def() }

// Configure reads the header name.
func (p *HasHeaderKey) Configure(props map[string]string) error {
	if _, err := configure("HasHeaderKey", hasHeaderKeyBinding, props, p); err != nil {
		return err
	}
	return nil
}

// Test reports whether the record has the header.
func (p *HasHeaderKey) Test(rec *connect.Record) bool {
	_, ok := rec.Headers.Last(p.name)
	return ok
}

// Close does nothing.
func (*HasHeaderKey) Close() error { return nil }

// RecordIsTombstone is true for records whose value is nil.
type RecordIsTombstone struct{}

// NewRecordIsTombstone returns a RecordIsTombstone.
func NewRecordIsTombstone() *RecordIsTombstone { return &RecordIsTombstone{} }

// Config returns no keys.
func (*RecordIsTombstone) Config() *config.Def { return config.NewDef() }

// Configure accepts anything.
func (*RecordIsTombstone) Configure(map[string]string) error { return nil }

// Test reports whether the record's value is nil.
func (*RecordIsTombstone) Test(rec *connect.Record) bool { return rec.Value == nil }

// Close does nothing.
func (*RecordIsTombstone) Close() error { return nil }
