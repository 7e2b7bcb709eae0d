package broker

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// FuzzDecodeRequest feeds arbitrary frames to the request decoder; it must
// return an error or a request, never panic.
func FuzzDecodeRequest(f *testing.F) {
	var fm kmsg.RequestFormatter
	seeds := []kmsg.Request{
		kmsg.NewPtrApiVersionsRequest(),
		func() kmsg.Request {
			r := kmsg.NewPtrMetadataRequest()
			t := kmsg.NewMetadataRequestTopic()
			t.Topic = kmsg.StringPtr("a")
			r.Topics = append(r.Topics, t)
			return r
		}(),
		func() kmsg.Request {
			r := kmsg.NewPtrProduceRequest()
			r.Acks = -1
			t := kmsg.NewProduceRequestTopic()
			t.Topic = "a"
			p := kmsg.NewProduceRequestTopicPartition()
			p.Records = []byte{1, 2, 3}
			t.Partitions = append(t.Partitions, p)
			r.Topics = append(r.Topics, t)
			return r
		}(),
		func() kmsg.Request {
			r := kmsg.NewPtrFetchRequest()
			t := kmsg.NewFetchRequestTopic()
			t.Topic = "a"
			t.Partitions = append(t.Partitions, kmsg.NewFetchRequestTopicPartition())
			r.Topics = append(r.Topics, t)
			return r
		}(),
		kmsg.NewPtrCreateTopicsRequest(),
		kmsg.NewPtrDescribeConfigsRequest(),
	}
	for _, r := range seeds {
		for _, v := range []int16{0, r.MaxVersion() / 2, r.MaxVersion()} {
			r.SetVersion(v)
			frame := fm.AppendRequest(nil, r, 7)
			f.Add(frame[4:])
		}
	}
	f.Add([]byte{0, 18, 0, 99, 0, 0, 0, 1, 255, 255})
	f.Add([]byte{0x7f, 0x7f, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, body []byte) {
		h, req, err := DecodeRequest(body)
		if err == nil && (req == nil || req.Key() != h.Key || req.GetVersion() != h.Version) {
			t.Fatalf("decoded %v without a matching request", h)
		}
	})
}
