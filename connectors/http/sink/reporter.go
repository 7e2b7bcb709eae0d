package sink

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/penstockhq/penstock/connect/config"
	"github.com/penstockhq/penstock/connectors/http/httpclient"
)

// Reporter keys, as Confluent's HTTP sink names them.
const (
	ReporterBootstrapConfig   = "reporter.bootstrap.servers"
	ReporterResultTopicConfig = "reporter.result.topic.name"
	ReporterErrorTopicConfig  = "reporter.error.topic.name"
	ReportErrorsAsConfig      = "report.errors.as"
)

func reporterKeys() []config.Key {
	g := "Reporter"
	return []config.Key{
		{Name: ReporterBootstrapConfig, Type: config.String, Default: "", Importance: config.Low, Group: g, OrderInGroup: 1,
			Doc: "The Kafka cluster the answers are reported to (host:port, comma separated); empty: no reports. Reports are best effort: a failed report is logged, and never holds back the records' offsets."},
		{Name: ReporterResultTopicConfig, Type: config.String, Default: "${connector}-success", Importance: config.Low, Group: g, OrderInGroup: 2,
			Doc: "The topic that gets, per record sent, the API's answer: value the response body, key the record's key, headers input_record_topic, input_record_partition, input_record_offset and status_code. ${connector} is the connector's name; empty: no success reports."},
		{Name: ReporterErrorTopicConfig, Type: config.String, Default: "${connector}-error", Importance: config.Low, Group: g, OrderInGroup: 3,
			Doc: "The topic that gets, per record the API refused, the failure, with the same headers. Empty: no error reports."},
		{Name: ReportErrorsAsConfig, Type: config.String, Default: "error_string", Importance: config.Low, Group: g, OrderInGroup: 4,
			Validator: config.OneOf("error_string", "http_response"),
			Doc:       "The value of an error report: error_string, the error as text; http_response, the API's response body."},
	}
}

// reporter produces the answers of the API to the reporter topics.
type reporter struct {
	cl          *kgo.Client
	log         *slog.Logger
	okTopic     string
	errTopic    string
	errAsAnswer bool
}

// reporting is the parsed reporter configuration.
type reporting struct {
	servers, okTopic, errTopic string
	errAsAnswer                bool
}

func parseReporting(v *config.Values) reporting {
	return reporting{servers: strings.TrimSpace(v.String(ReporterBootstrapConfig)), okTopic: v.String(ReporterResultTopicConfig),
		errTopic: v.String(ReporterErrorTopicConfig), errAsAnswer: strings.EqualFold(v.String(ReportErrorsAsConfig), "http_response")}
}

// newReporter returns nil when reporting is not configured.
func newReporter(c reporting, connector string, log *slog.Logger) (*reporter, error) {
	if c.servers == "" {
		return nil, nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(c.servers, ",")...), kgo.AllowAutoTopicCreation(),
		kgo.ProducerLinger(5*time.Millisecond), kgo.ClientID("penstock-http-reporter-"+connector))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ReporterBootstrapConfig, err)
	}
	name := func(t string) string { return strings.ReplaceAll(t, "${connector}", connector) }
	return &reporter{cl: cl, log: log, okTopic: name(c.okTopic), errTopic: name(c.errTopic), errAsAnswer: c.errAsAnswer}, nil
}

// report writes one record per item of the batch: to the result topic when
// err is nil, else to the error topic.
func (r *reporter) report(batch []item, resp *httpclient.Response, err error) {
	if r == nil {
		return
	}
	topic := r.okTopic
	if err != nil {
		topic = r.errTopic
	}
	if topic == "" {
		return
	}
	for i := range batch {
		it := &batch[i]
		rec := &kgo.Record{Topic: topic, Headers: []kgo.RecordHeader{
			{Key: "input_record_topic", Value: []byte(it.rec.Topic)},
			{Key: "input_record_partition", Value: strconv.AppendInt(nil, int64(it.rec.Partition), 10)},
			{Key: "input_record_offset", Value: strconv.AppendInt(nil, it.rec.Offset, 10)},
		}}
		if it.rec.Key != nil {
			rec.Key = []byte(text(it.rec.Key))
		}
		if resp != nil {
			rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: "status_code", Value: strconv.AppendInt(nil, int64(resp.Status), 10)})
			rec.Value = resp.Body
		}
		if err != nil && (!r.errAsAnswer || resp == nil) {
			rec.Value = []byte(err.Error())
		}
		r.cl.Produce(context.Background(), rec, func(rec *kgo.Record, err error) {
			if err != nil {
				r.log.Warn("http sink: reporting an answer failed", "topic", rec.Topic, "err", err)
			}
		})
	}
}

func (r *reporter) close() {
	if r == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = r.cl.Flush(ctx)
	r.cl.Close()
}
