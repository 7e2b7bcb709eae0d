package blob

import (
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/binary"
	"hash/crc32"
	"io"

	"github.com/golang/snappy"
	"github.com/klauspost/compress/zstd"
)

// ocfWriter writes an Avro object container file: the header (magic, the
// avro.schema, avro.codec and penstock.connect.schema metadata in that
// order, a sync marker derived from the schema) and blocks of about 1 MiB
// of encoded records, compressed by the codec. Everything is deterministic, so a rewritten object has the
// same bytes. (hamba/avro's encoder writes its metadata map in random
// order and picks a random sync marker.)
type ocfWriter struct {
	w     io.Writer
	codec string
	sync  [16]byte
	block bytes.Buffer
	count int64
	zenc  *zstd.Encoder
	out   []byte
}

const ocfBlockBytes = 1 << 20

func newOCFWriter(w io.Writer, schemaJSON []byte, codec, connectSchema string) (*ocfWriter, error) {
	o := &ocfWriter{w: w, codec: codec}
	sum := sha256.Sum256(schemaJSON)
	copy(o.sync[:], sum[:16])
	if codec == "zstandard" {
		enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		o.zenc = enc
	}
	h := []byte("Obj\x01")
	h = appendLong(h, 3)
	h = appendBytes(appendBytes(h, []byte("avro.schema")), schemaJSON)
	h = appendBytes(appendBytes(h, []byte("avro.codec")), []byte(codec))
	h = appendBytes(appendBytes(h, []byte(connectSchemaKey)), []byte(connectSchema))
	h = appendLong(h, 0)
	h = append(h, o.sync[:]...)
	_, err := w.Write(h)
	return o, err
}

// appendLong appends n in Avro's zig-zag varint encoding.
func appendLong(b []byte, n int64) []byte {
	return binary.AppendUvarint(b, uint64((n<<1)^(n>>63)))
}

func appendBytes(b, p []byte) []byte { return append(appendLong(b, int64(len(p))), p...) }

// add appends one encoded record, writing a block when it is full.
func (o *ocfWriter) add(rec []byte) error {
	o.block.Write(rec)
	o.count++
	if o.block.Len() >= ocfBlockBytes {
		return o.flush()
	}
	return nil
}

func (o *ocfWriter) flush() error {
	if o.count == 0 {
		return nil
	}
	data := o.block.Bytes()
	switch o.codec {
	case "deflate":
		var buf bytes.Buffer
		fw, _ := flate.NewWriter(&buf, flate.DefaultCompression)
		fw.Write(data)
		if err := fw.Close(); err != nil {
			return err
		}
		data = buf.Bytes()
	case "snappy": // snappy block, then the CRC-32 of the uncompressed data
		crc := crc32.ChecksumIEEE(data)
		data = binary.BigEndian.AppendUint32(snappy.Encode(nil, data), crc)
	case "zstandard":
		data = o.zenc.EncodeAll(data, nil)
	}
	o.out = appendLong(appendLong(o.out[:0], o.count), int64(len(data)))
	o.out = append(append(o.out, data...), o.sync[:]...)
	o.block.Reset()
	o.count = 0
	_, err := o.w.Write(o.out)
	return err
}

// close writes the last block.
func (o *ocfWriter) close() error {
	err := o.flush()
	if o.zenc != nil {
		o.zenc.Close()
	}
	return err
}
