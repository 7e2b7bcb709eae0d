package broker

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/penstockhq/penstock/broker/storage"
)

// TestAppendFetchSplicedMatchesKmsg checks the spliced encoder against
// kmsg's for every fetch version: with the records put back in place, the
// bytes must be the same, for records in files, large and small records in
// memory, null and empty records, aborted transactions and errors.
func TestAppendFetchSplicedMatchesKmsg(t *testing.T) {
	dir := t.TempDir()
	content := make([]byte, 200<<10)
	for i := range content {
		content[i] = byte(i * 7)
	}
	f, err := os.Create(filepath.Join(dir, "seg"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(content); err != nil {
		t.Fatal(err)
	}
	large := bytes.Repeat([]byte("x"), spliceMin+3)
	build := func(version int16, withFiles bool) *fetchResponse {
		resp := kmsg.NewPtrFetchResponse()
		resp.Version = version
		resp.ThrottleMillis = 7
		resp.SessionID = 0
		v := &fetchResponse{FetchResponse: resp}
		for ti := range 3 {
			st := kmsg.NewFetchResponseTopic()
			st.Topic = fmt.Sprintf("topic-%d", ti)
			st.TopicID[0], st.TopicID[15] = byte(ti+1), 0xee
			var rs []storage.FileRange
			for pi := range 4 + ti {
				sp := kmsg.NewFetchResponseTopicPartition()
				sp.Partition = int32(pi)
				sp.HighWatermark, sp.LastStableOffset, sp.LogStartOffset = int64(1000*pi+1), int64(1000*pi), 3
				sp.PreferredReadReplica = -1
				sp.RecordBatches = emptyRecords
				var r storage.FileRange
				switch (ti + pi) % 6 {
				case 0: // in a file
					r = storage.FileRange{File: f, Pos: int64(ti*1000 + pi*17), Len: int64(1 + (ti+1)*(pi+1)*5000)}
				case 1: // small, in memory, with aborted transactions
					sp.RecordBatches = content[pi : pi+100]
					for k := range pi {
						at := kmsg.NewFetchResponseTopicPartitionAbortedTransaction()
						at.ProducerID, at.FirstOffset = int64(k+10), int64(k*3)
						sp.AbortedTransactions = append(sp.AbortedTransactions, at)
					}
				case 2: // large, in memory
					sp.RecordBatches = large
				case 3: // error, null records
					sp.ErrorCode = 3
					sp.RecordBatches = nil
				case 4: // in a file, from its start
					r = storage.FileRange{File: f, Pos: 0, Len: int64(len(content))}
				}
				if withFiles {
					rs = append(rs, r)
				} else if r.Len > 0 {
					sp.RecordBatches = content[r.Pos : r.Pos+r.Len]
				}
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
			v.ranges = append(v.ranges, rs)
		}
		if !withFiles {
			v.ranges = nil
		}
		return v
	}
	for version := int16(4); version <= 18; version++ {
		want := build(version, false).AppendTo(nil)
		v := build(version, true)
		buf, splices, ok := appendFetchSpliced([]byte("hdr"), v, nil)
		if !ok {
			t.Fatalf("v%d: not spliced", version)
		}
		if len(splices) == 0 {
			t.Fatalf("v%d: no splices", version)
		}
		var got []byte
		prev := 3
		for _, s := range splices {
			got = append(got, buf[prev:s.at]...)
			prev = s.at
			if s.file.Len > 0 {
				got = append(got, content[s.file.Pos:s.file.Pos+s.file.Len]...)
			} else {
				got = append(got, s.data...)
			}
		}
		got = append(got, buf[prev:]...)
		if !bytes.Equal(got, want) {
			t.Fatalf("v%d: spliced encoding differs from kmsg (%d vs %d bytes)", version, len(got), len(want))
		}
		// Through a real socket, with sendfile.
		var hdr [4]byte
		binary.BigEndian.PutUint32(hdr[:], 9)
		out := sendOverTCP(t, func(c net.Conn) error {
			var bufs [][]byte
			_, handled, err := writeFetch(c, 9, v, nil, &bufs)
			if err == nil && !handled {
				err = fmt.Errorf("not handled")
			}
			return err
		})
		frame := append([]byte{0, 0, 0, 0}, hdr[:]...)
		if version >= 12 {
			frame = append(frame, 0)
		}
		frame = append(frame, want...)
		binary.BigEndian.PutUint32(frame, uint32(len(frame)-4))
		if !bytes.Equal(out, frame) {
			t.Fatalf("v%d: written frame differs from kmsg (%d vs %d bytes)", version, len(out), len(frame))
		}
		// Through a connection that cannot sendfile (as TLS): staged,
		// in writes of whole 16 KiB records but for the last one.
		var sizes []int
		out = sendOverTCP(t, func(c net.Conn) error {
			var bufs [][]byte
			_, handled, err := writeFetch(countingConn{c, &sizes}, 9, build(version, true), nil, &bufs)
			if err == nil && !handled {
				err = fmt.Errorf("not handled")
			}
			return err
		})
		if !bytes.Equal(out, frame) {
			t.Fatalf("v%d: staged frame differs from kmsg (%d vs %d bytes)", version, len(out), len(frame))
		}
		for i, n := range sizes[:len(sizes)-1] {
			if n%(16<<10) != 0 {
				t.Fatalf("v%d: staged write %d of %d is %d bytes, not whole TLS records", version, i, len(sizes), n)
			}
		}
		// The fallback: materialized and encoded with kmsg.
		v = build(version, true)
		var bufs [][]byte
		if err := v.materialize(&bufs, math.MaxInt64); err != nil {
			t.Fatal(err)
		}
		if got := v.AppendTo(nil); !bytes.Equal(got, want) {
			t.Fatalf("v%d: materialized encoding differs from kmsg", version)
		}
	}
	// Tagged fields it does not write: refused, so kmsg encodes.
	v := build(12, true)
	v.Topics[0].Partitions[0].DivergingEpoch.Epoch = 4
	if _, _, ok := appendFetchSpliced(nil, v, nil); ok {
		t.Fatal("diverging epoch spliced")
	}
}

// countingConn hides the socket's SyscallConn (as a TLS connection does)
// and records the size of each write.
type countingConn struct {
	net.Conn
	sizes *[]int
}

func (c countingConn) Write(p []byte) (int, error) {
	*c.sizes = append(*c.sizes, len(p))
	return c.Conn.Write(p)
}

func sendOverTCP(t *testing.T, write func(net.Conn) error) []byte {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	errc := make(chan error, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			errc <- err
			return
		}
		defer c.Close()
		errc <- write(c)
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	out, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	return out
}

// TestFetchZeroCopyWire compares, byte for byte, the fetch responses of a
// running broker with zero-copy on and off, across fetch versions (flexible
// and not), partition counts and byte limits.
func TestFetchZeroCopyWire(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.Listen = "127.0.0.1:0"
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(ln)
	defer s.Close()
	defer SetZeroCopyFetch(true)
	const parts = 4
	for _, name := range []string{"zc-a", "zc-b"} {
		if err := s.CreateTopic(name, parts, nil); err != nil {
			t.Fatal(err)
		}
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(ln.Addr().String()), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for round := range 3 {
		var recs []*kgo.Record
		for p := range int32(parts) {
			for i := range 20 + int(p)*30 {
				recs = append(recs, &kgo.Record{Topic: "zc-a", Partition: p,
					Value: bytes.Repeat([]byte{byte('a' + i%26)}, 100+i*int(p+1)*10)})
			}
			recs = append(recs, &kgo.Record{Topic: "zc-b", Partition: p, Value: fmt.Appendf(nil, "b-%d-%d", round, p)})
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	ids := map[string][16]byte{}
	for _, name := range []string{"zc-a", "zc-b"} {
		ids[name] = s.lookupTopic(name).id
	}

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	fm := kmsg.NewRequestFormatter(kmsg.FormatterClientID("zc-test"))
	corr := int32(0)
	roundTrip := func(req *kmsg.FetchRequest) []byte {
		t.Helper()
		corr++
		if _, err := c.Write(fm.AppendRequest(nil, req, corr)); err != nil {
			t.Fatal(err)
		}
		var size [4]byte
		if _, err := io.ReadFull(br, size[:]); err != nil {
			t.Fatal(err)
		}
		body := make([]byte, binary.BigEndian.Uint32(size[:]))
		if _, err := io.ReadFull(br, body); err != nil {
			t.Fatal(err)
		}
		return body
	}
	type sel struct {
		topic  string
		parts  []int32
		offset int64
	}
	cases := []struct {
		name     string
		sel      []sel
		maxBytes int32
		partMax  int32
	}{
		{"one partition", []sel{{"zc-a", []int32{2}, 0}}, 64 << 20, 16 << 20},
		{"all partitions", []sel{{"zc-a", []int32{0, 1, 2, 3}, 0}}, 64 << 20, 16 << 20},
		{"two topics", []sel{{"zc-a", []int32{3, 1}, 5}, {"zc-b", []int32{0, 1, 2, 3}, 1}}, 64 << 20, 16 << 20},
		{"partition limit", []sel{{"zc-a", []int32{0, 1, 2, 3}, 0}}, 64 << 20, 3000},
		{"response limit", []sel{{"zc-a", []int32{0, 1, 2, 3}, 0}}, 20000, 16 << 20},
		{"tiny limits", []sel{{"zc-a", []int32{0, 1}, 0}, {"zc-b", []int32{2}, 0}}, 1, 1},
		{"errors", []sel{{"zc-a", []int32{0, 9}, 0}, {"zc-b", []int32{1}, 1 << 40}, {"zc-b", []int32{3}, 3}}, 64 << 20, 16 << 20},
	}
	for _, version := range []int16{4, 5, 7, 11, 12, 13, 15, 16, 17, 18} {
		for i, tc := range cases {
			req := kmsg.NewPtrFetchRequest()
			req.Version = version
			req.ReplicaID = -1
			req.MaxWaitMillis = 0
			req.MinBytes = 0
			req.MaxBytes = tc.maxBytes
			req.SessionEpoch = -1
			if i%2 == 1 {
				// read_committed partitions are read into memory
				// and trimmed; they take the buffered records path.
				req.IsolationLevel = 1
			}
			for _, sl := range tc.sel {
				rt := kmsg.NewFetchRequestTopic()
				rt.Topic, rt.TopicID = sl.topic, ids[sl.topic]
				for _, p := range sl.parts {
					rp := kmsg.NewFetchRequestTopicPartition()
					rp.Partition, rp.FetchOffset, rp.PartitionMaxBytes = p, sl.offset, tc.partMax
					rt.Partitions = append(rt.Partitions, rp)
				}
				req.Topics = append(req.Topics, rt)
			}
			SetZeroCopyFetch(false)
			want := roundTrip(req)
			SetZeroCopyFetch(true)
			got := roundTrip(req)
			// Correlation ids differ.
			if len(got) < 4 || len(want) < 4 || !bytes.Equal(got[4:], want[4:]) {
				t.Fatalf("v%d %s: zero-copy response differs (%d vs %d bytes)", version, tc.name, len(got), len(want))
			}
			resp := kmsg.NewPtrFetchResponse()
			resp.Version = version
			off := 4
			if version >= 12 {
				off++
			}
			if err := resp.ReadFrom(got[off:]); err != nil {
				t.Fatalf("v%d %s: decode: %v", version, tc.name, err)
			}
			n := 0
			for _, rt := range resp.Topics {
				for _, rp := range rt.Partitions {
					n += len(rp.RecordBatches)
				}
			}
			if tc.name != "errors" && n == 0 {
				t.Fatalf("v%d %s: no records", version, tc.name)
			}
		}
	}
}
