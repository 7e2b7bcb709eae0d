package postgres

import (
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// decodeFast gives what decode gives, errors included.
func TestDecodeFastMatchesDecode(t *testing.T) {
	s := testSettings(t, nil)
	tm := &typeMap{byOID: map[uint32]*pgType{}}
	inputs := map[uint32][]string{
		oidInt2:        {"0", "-32768", "32767", "32768", "+5", "007", "", "x", "1.5"},
		oidInt4:        {"0", "-2147483648", "2147483647", "2147483648", "42", " 1", ""},
		oidInt8:        {"0", "-9223372036854775808", "9223372036854775807", "9223372036854775808", "123456789012"},
		oidText:        {"", "abc", "tab\tand\nnewline", "ünïcødé", string(make([]byte, 2000))},
		oidUUID:        {"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
		oidTimestamptz: {"2024-03-01 12:00:00+00", "2024-03-01 12:00:00.123456+00", "1999-12-31 23:59:59.5+05:30", "infinity", "-infinity", "0044-03-15 12:00:00+00 BC", "garbage", "2024-03-01 12:00:00.000001+00"},
	}
	codecs := map[string]codec{}
	for oid, in := range inputs {
		c := s.codecFor(tm, oid, -1)
		if c.fast == fastNone {
			t.Fatalf("oid %d: no fast kind", oid)
		}
		for _, x := range in {
			codecs[strconv.Itoa(int(oid))+":"+x] = c
		}
	}
	num := s.codecFor(tm, oidNumeric, (12<<16|2)+4)
	num0 := s.codecFor(tm, oidNumeric, (18<<16|0)+4)
	for _, x := range []string{"0", "0.00", "-0.01", "1.5", "12345678901.99", "999999999999999999", "1.234", "1e5", "NaN", "Infinity", "-Infinity", "", "-", "99999999999999999.99"} {
		codecs["numeric:"+x] = num
		codecs["numeric0:"+x] = num0
	}
	var a valueArena
	for key, c := range codecs {
		in := key[strings.IndexByte(key, ':')+1:]
		want, werr := c.decode([]byte(in))
		got, gerr := c.decodeFast([]byte(in), &a)
		if (werr != nil) != (gerr != nil) || (werr != nil && werr.Error() != gerr.Error()) {
			t.Errorf("%s: error %v, want %v", key, gerr, werr)
			continue
		}
		if werr != nil {
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: %T %v, want %T %v", key, got, got, want, want)
		}
	}
}

// The block writer hands every byte on, in order, rows larger than a block
// included, and aborts the COPY once the decoder failed.
func TestBlockWriter(t *testing.T) {
	w := newBlockWriter()
	var got []byte
	done := make(chan struct{})
	go func() {
		defer close(done)
		for blk := range w.full {
			got = append(got, blk...)
			w.free <- blk[:0]
		}
	}()
	var want []byte
	for i := 0; i < 5000; i++ {
		row := []byte(strings.Repeat(strconv.Itoa(i), 1+i%50) + "\n")
		if i%1000 == 999 {
			row = []byte(strings.Repeat("x", 3*copyBlockSize) + "\n")
		}
		want = append(want, row...)
		if n, err := w.Write(row); n != len(row) || err != nil {
			t.Fatal(n, err)
		}
	}
	w.close()
	<-done
	if string(got) != string(want) {
		t.Fatalf("got %d bytes, want %d", len(got), len(want))
	}
	w = newBlockWriter()
	w.failed.Store(true)
	if _, err := w.Write([]byte("1\n")); err != errCopyAborted {
		t.Fatalf("after a decoder failure: %v", err)
	}
}
