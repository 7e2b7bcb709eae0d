package broker_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
)

// TestKcatConsumerGroup runs librdkafka's balanced consumer (kcat -G)
// against the group coordinator: it joins, gets all partitions, reads
// everything and commits.
func TestKcatConsumerGroup(t *testing.T) {
	kcat := kcatPath(t)
	b := startGroupBroker(t)
	topic, group := "kcat-group", "kcat-g"
	createTopic(t, b.Addr, topic, 3, nil)
	prod := newClient(t, b.Addr)
	produceN(t, prod, topic, 30, "k")
	out := runKcat(t, kcat, "", "-b", b.Addr, "-G", group, "-o", "beginning", "-c", "30", "-f", "%s\n",
		"-X", "session.timeout.ms=6000", "-X", "enable.auto.commit=true", "-X", "auto.commit.interval.ms=100", topic)
	if n := strings.Count(out, "\n"); n != 30 {
		t.Fatalf("kcat -G read %d records:\n%s", n, out)
	}
	adm := kadm.NewClient(prod)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	os, err := adm.FetchOffsets(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	os.Each(func(o kadm.OffsetResponse) { sum += o.At })
	if sum != 30 {
		t.Fatalf("kcat committed offsets summing to %d, want 30", sum)
	}
}
