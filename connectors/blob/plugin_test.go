package blob_test

import (
	"testing"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
	"github.com/penstockhq/penstock/connectors/blob"
	"github.com/penstockhq/penstock/plugins"
	"github.com/penstockhq/penstock/plugins/builtin"
)

func TestRegisteredUnderConfluentNames(t *testing.T) {
	for _, name := range []string{blob.S3SinkClass, blob.GCSSinkClass, blob.AzureSinkClass, "S3SinkConnector", "blob"} {
		p, err := builtin.Registry().LookupKind(name, plugins.Sink)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, ok := p.New().(connect.SinkConnector); !ok {
			t.Fatalf("%s: not a sink connector", name)
		}
	}
	if _, err := builtin.Registry().LookupKind(blob.S3SourceClass, plugins.Source); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{blob.AWSSecretKeyConfig, blob.AzKeyConfig} {
		if key, _ := blob.ConfigDef().Key(k); key.Type != config.Password {
			t.Errorf("%s is not a PASSWORD key", k)
		}
	}
}

// TestValidationNamesTheKey: problems across keys are reported under the
// key at fault.
func TestValidationNamesTheKey(t *testing.T) {
	for _, tc := range []struct {
		props map[string]string
		key   string
	}{
		{map[string]string{"store.url": "mem://", "partitioner.class": "io.confluent.connect.storage.partitioner.TimeBasedPartitioner", "path.format": "YYYY", "partition.duration.ms": "3600000"}, blob.TimezoneConfig},
		{map[string]string{"store.url": "mem://", "partitioner.class": "FieldPartitioner"}, blob.PartitionFieldConfig},
		{map[string]string{"store.url": "http://minio:9000"}, blob.StoreURLConfig},
		{map[string]string{"s3.bucket.name": "b", "gcs.bucket.name": "c"}, blob.S3BucketConfig},
		{map[string]string{"store.url": "mem://", "path.format": "'x'=qq", "partitioner.class": "TimeBasedPartitioner", "timezone": "UTC", "partition.duration.ms": "1000"}, blob.PathFormatConfig},
	} {
		tc.props["format.class"], tc.props["flush.size"] = "JsonFormat", "10"
		infos := blob.ConfigDef().Validate("S3SinkConnector", tc.props)
		(&blob.Connector{}).ValidateConfig(tc.props, &infos)
		found := false
		for _, c := range infos.Configs {
			if c.Definition.Name == tc.key && len(c.Value.Errors) > 0 {
				found = true
			}
		}
		if !found || infos.ErrorCount != 1 {
			t.Errorf("%v: %d errors, none under %s: %v", tc.props, infos.ErrorCount, tc.key, infos.Problems())
		}
	}
}
