package transforms

import (
	"errors"
	"strings"
	"testing"

	"github.com/penstockhq/penstock/connect"
)

func newChain(t testing.TB, props map[string]string) *Chain {
	t.Helper()
	tf, pf := Factories()
	c, err := NewChain(props, tf, pf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func TestChainRunsStepsInOrderWithPredicates(t *testing.T) {
	c := newChain(t, map[string]string{
		"transforms":             "unwrap, route ,tag,dropTombstones",
		"transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
		"transforms.unwrap.delete.tombstone.handling.mode": "rewrite-with-tombstone",
		"transforms.route.type":                            "org.apache.kafka.connect.transforms.RegexRouter",
		"transforms.route.regex":                           `[^.]+\.[^.]+\.(.*)`,
		"transforms.route.replacement":                     "cdc.$1",
		"transforms.route.predicate":                       "isCustomers",
		"transforms.tag.type":                              "org.apache.kafka.connect.transforms.InsertField$Value",
		"transforms.tag.static.field":                      "origin",
		"transforms.tag.static.value":                      "pg",
		"transforms.tag.predicate":                         "isTombstone",
		"transforms.tag.negate":                            "true",
		"transforms.dropTombstones.type":                   "org.apache.kafka.connect.transforms.Filter",
		"transforms.dropTombstones.predicate":              "isOther",
		"predicates":                                       "isCustomers,isTombstone,isOther",
		"predicates.isCustomers.type":                      "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
		"predicates.isCustomers.pattern":                   `.*\.customers`,
		"predicates.isTombstone.type":                      "org.apache.kafka.connect.transforms.predicates.RecordIsTombstone",
		"predicates.isOther.type":                          "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
		"predicates.isOther.pattern":                       "other.*",
	})
	if got := strings.Join(c.Aliases(), ","); got != "unwrap,route,tag,dropTombstones" {
		t.Fatal(got)
	}
	out, err := c.Apply(change(t, "c", nil, row(t, 1, "Ann")))
	if err != nil {
		t.Fatal(err)
	}
	if out.Topic != "cdc.customers" || out.Value.(*connect.Struct).Get("origin") != "pg" || out.Value.(*connect.Struct).Get("__deleted") != "false" {
		t.Fatalf("%s %v", out.Topic, out.Value)
	}
	// A tombstone: kept by unwrap, routed, not tagged (negated predicate).
	out, err = c.Apply(&connect.Record{Topic: "db.public.customers", Key: 1})
	if err != nil || out == nil || out.Topic != "cdc.customers" || out.Value != nil {
		t.Fatal(out, err)
	}
	// Filter applies to "other" topics only.
	out, err = c.Apply(&connect.Record{Topic: "other-topic", Value: map[string]any{}})
	if err != nil || out != nil {
		t.Fatal("filter did not drop", out, err)
	}
	// An error names the alias, the transform and the record.
	bad := &connect.Record{Topic: "t", Offset: 9, ValueSchema: connect.StringSchema, Value: "text"}
	_, err = c.Apply(bad)
	var se *StageError
	if !errors.As(err, &se) || se.Alias != "tag" || !strings.Contains(err.Error(), "InsertField$Value") || !strings.Contains(err.Error(), "offset 9") {
		t.Fatal(err)
	}
}

func TestChainConfigErrorsNameTheKey(t *testing.T) {
	tf, pf := Factories()
	cases := []struct {
		props map[string]string
		want  []string
	}{
		{map[string]string{"transforms": "a", "transforms.a.type": "NoSuchTransform"}, []string{"transforms.a.type", "NoSuchTransform"}},
		{map[string]string{"transforms": "a"}, []string{"transforms.a.type", "Missing required"}},
		{map[string]string{"transforms": "a", "transforms.a.type": "RegexRouter", "transforms.a.regex": "(", "transforms.a.replacement": "x"},
			[]string{"transforms.a.type", "RegexRouter", "regex"}},
		{map[string]string{"transforms": "a", "transforms.a.type": "Cast$Value", "transforms.a.spec": "x:uint"},
			[]string{"Cast$Value", "spec", "uint"}},
		{map[string]string{"transforms": "a", "transforms.a.type": "Filter", "transforms.a.predicate": "p"},
			[]string{"transforms.a.predicate", `"p"`}},
		{map[string]string{"transforms": "a,a", "transforms.a.type": "Filter"}, []string{"duplicate alias"}},
		{map[string]string{"transforms": "a", "transforms.a.type": "Filter", "transforms.a.negate": "true"}, []string{"transforms.a.negate"}},
		{map[string]string{"transforms": "a", "transforms.a.type": "Filter", "transforms.a.predicate": "p", "predicates": "p",
			"predicates.p.type": "TopicNameMatches"}, []string{"predicates.p.type", "pattern"}},
	}
	for _, c := range cases {
		_, err := NewChain(c.props, tf, pf)
		wantErrContains(t, err, c.want...)
	}
	// No transforms: an empty chain passes records through.
	c, err := NewChain(map[string]string{}, tf, pf)
	if err != nil || c.Len() != 0 {
		t.Fatal(c, err)
	}
	r := &connect.Record{Topic: "t"}
	if out, _ := c.Apply(r); out != r {
		t.Fatal("empty chain changed the record")
	}
}

func TestValidateChain(t *testing.T) {
	tf, pf := Factories()
	infos := ValidateChain(map[string]string{
		"transforms":                "route,cast,ok,ghost",
		"transforms.route.type":     "RegexRouter",
		"transforms.route.regex":    "(",
		"transforms.cast.type":      "Cast$Value",
		"transforms.cast.spec":      "a:int99",
		"transforms.cast.predicate": "nope",
		"transforms.ok.type":        "TimestampConverter$Value",
		"transforms.ok.target.type": "string",
		"transforms.ghost.type":     "Nothing",
		"predicates":                "p",
		"predicates.p.type":         "TopicNameMatches",
	}, tf, pf)
	problems := ProblemsByKey(infos)
	for _, key := range []string{"transforms.route.regex", "transforms.route.replacement", "transforms.cast.spec", "transforms.cast.predicate",
		"transforms.ok.format", "transforms.ghost.type", "predicates.p.pattern"} {
		if len(problems[key]) == 0 {
			t.Errorf("no problem reported for %s; got %v", key, problems)
		}
	}
	if infos.ErrorCount != len(problems) && infos.ErrorCount < len(problems) {
		t.Fatalf("error_count %d for %v", infos.ErrorCount, problems)
	}
	found := false
	for _, g := range infos.Groups {
		found = found || g == "Transforms: route"
	}
	if !found {
		t.Fatal(infos.Groups)
	}
	// A valid chain has no errors and lists the plugin's keys with defaults.
	infos = ValidateChain(map[string]string{"transforms": "r", "transforms.r.type": "RegexRouter", "transforms.r.regex": "(.*)",
		"transforms.r.replacement": "x-$1"}, tf, pf)
	if infos.ErrorCount != 0 {
		t.Fatal(ProblemsByKey(infos))
	}
	names := map[string]bool{}
	for _, c := range infos.Configs {
		names[c.Definition.Name] = true
	}
	for _, k := range []string{"transforms.r.type", "transforms.r.predicate", "transforms.r.negate", "transforms.r.regex", "transforms.r.replacement"} {
		if !names[k] {
			t.Errorf("%s not listed", k)
		}
	}
}

// panicky is a transformation that panics, to check the chain contains it.
type panicky struct{ *Filter }

func (panicky) Apply(*connect.Record) (*connect.Record, error) { panic("boom") }

func TestChainRecoversFromAPanickingTransform(t *testing.T) {
	tf := func(string) (connect.Transformation, error) { return panicky{NewFilter()}, nil }
	c, err := NewChain(map[string]string{"transforms": "p", "transforms.p.type": "x"}, tf, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Apply(&connect.Record{})
	var se *StageError
	if !errors.As(err, &se) || se.Alias != "p" || !strings.Contains(err.Error(), "boom") {
		t.Fatal(err)
	}
}

func TestPluginNamesAreUnique(t *testing.T) {
	seen := map[string]string{}
	for _, p := range Plugins() {
		simple := p.Class[strings.LastIndexByte(p.Class, '.')+1:]
		for _, n := range append([]string{p.Class, simple}, p.Aliases...) {
			if other, dup := seen[n]; dup {
				t.Errorf("%s is a name of %s and %s", n, other, p.Class)
			}
			seen[n] = p.Class
		}
		inst := p.New()
		if inst.Config() == nil {
			t.Errorf("%s has no config", p.Class)
		}
		_, isT := inst.(connect.Transformation)
		_, isP := inst.(connect.Predicate)
		if isT == p.Predicate || isP != p.Predicate {
			t.Errorf("%s: kind mismatch", p.Class)
		}
	}
}

// The chain changes what its own stages made in place, never the caller's
// record or maps, and never a map shared between two outputs.
func TestChainNeverChangesItsInput(t *testing.T) {
	c := newChain(t, benchChainProps)
	in := changeMap("u", rowMap(1, "Old"), rowMap(1, "Ann"))
	after := in.Value.(map[string]any)["after"].(map[string]any)
	out1, err := c.Apply(in)
	if err != nil {
		t.Fatal(err)
	}
	out2, err := c.Apply(in)
	if err != nil {
		t.Fatal(err)
	}
	if in.Topic != "db.public.customers" || len(after) != 6 || after["email"] == nil || after["qty"] != "7" || after["origin"] != nil {
		t.Fatalf("input changed: %s %v", in.Topic, after)
	}
	m1, m2 := out1.Value.(map[string]any), out2.Value.(map[string]any)
	wantValue(t, m1, map[string]any{"id": 1.0, "name": "Ann", "score": 4.5, "qty": int32(7), "region": "eu", "origin": "pg-main",
		"__op": "u", "__source_ts_ms": float64(1700000000000)})
	m1["x"] = 1
	if _, shared := m2["x"]; shared || out1 == out2 || out1.Topic != "sink.customers" {
		t.Fatal("outputs share state")
	}
	// Schema'd records too.
	sin := change(t, "u", row(t, 1, "Old"), row(t, 1, "Ann"))
	sout, err := c.Apply(sin)
	if err != nil {
		t.Fatal(err)
	}
	if sin.ValueSchema != envelopeSchema || sin.Topic != "db.public.customers" {
		t.Fatal("input changed")
	}
	if got := fieldNames(sout.ValueSchema); got != "id:int32,name:string?,score:double?,qty:int32?,region:string?,__op:string?,__source_ts_ms:int64?,origin:string?" {
		t.Fatal(got)
	}
	if err := sout.Value.(*connect.Struct).Validate(); err != nil {
		t.Fatal(err)
	}
}
