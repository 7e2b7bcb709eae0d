package builtin

import (
	"testing"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/plugins"
)

func TestTransformPluginsResolveByClassSimpleAndShortNames(t *testing.T) {
	reg := Registry()
	for name, kind := range map[string]plugins.Kind{
		"org.apache.kafka.connect.transforms.InsertField$Value": plugins.Transformation,
		"InsertField$Key":                              plugins.Transformation,
		"insert-field-value":                           plugins.Transformation,
		"io.debezium.transforms.ExtractNewRecordState": plugins.Transformation,
		"unwrap": plugins.Transformation,
		"io.debezium.transforms.outbox.EventRouter":                       plugins.Transformation,
		"io.debezium.transforms.ByLogicalTableRouter":                     plugins.Transformation,
		"org.apache.kafka.connect.transforms.predicates.TopicNameMatches": plugins.Predicate,
		"RecordIsTombstone": plugins.Predicate,
	} {
		p, err := reg.LookupKind(name, kind)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		inst := p.New()
		if _, ok := inst.(connect.Transformation); ok != (kind == plugins.Transformation) {
			t.Fatalf("%s: wrong kind", name)
		}
	}
	if _, err := reg.LookupKind("unwrap", plugins.Predicate); err == nil {
		t.Fatal("a transformation resolved as a predicate")
	}
}
