package datagen_test

import (
	"testing"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/connecttest"
	"github.com/penstockhq/penstock/connectors/datagen"
)

func TestConformance(t *testing.T) {
	connecttest.RunSource(t, connecttest.Source{
		New:    func() connect.SourceConnector { return datagen.New() },
		Config: map[string]string{datagen.TopicConfig: "gen", datagen.BatchSizeConfig: "2"},
		Invalid: map[string]map[string]string{
			datagen.TopicConfig: {},
			datagen.RateConfig:  {datagen.TopicConfig: "gen", datagen.RateConfig: "-1"},
		},
	})
}
