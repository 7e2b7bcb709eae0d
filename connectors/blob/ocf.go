package blob

import (
	"bufio"
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
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

// ocfHeader is the header of an object container file, as read by
// readOCFHeader: its bytes (handed again to hamba/avro's decoder once whole
// blocks are passed over), metadata and sync marker.
type ocfHeader struct {
	raw  []byte
	meta map[string][]byte
	sync [16]byte
}

// teeByteReader keeps the bytes read through it.
type teeByteReader struct {
	r    *bufio.Reader
	kept []byte
}

func (t *teeByteReader) ReadByte() (byte, error) {
	c, err := t.r.ReadByte()
	if err == nil {
		t.kept = append(t.kept, c)
	}
	return c, err
}

func (t *teeByteReader) next(n int64) ([]byte, error) {
	if n < 0 || n > 64<<20 {
		return nil, fmt.Errorf("a length of %d", n)
	}
	start := len(t.kept)
	t.kept = append(t.kept, make([]byte, n)...)
	_, err := io.ReadFull(t.r, t.kept[start:])
	return t.kept[start:], err
}

// readOCFHeader reads the header of an object container file (the magic,
// the metadata map, the sync marker). The blob source reads it by hand so
// that it can pass over whole blocks, which hamba/avro's ocf.Decoder reads
// only record by record.
func readOCFHeader(r *bufio.Reader) (*ocfHeader, error) {
	t := &teeByteReader{r: r}
	magic, err := t.next(4)
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, fmt.Errorf("the header: %w", err)
	}
	if string(magic) != "Obj\x01" {
		return nil, errors.New("not an Avro object container file")
	}
	h := &ocfHeader{meta: map[string][]byte{}}
	for {
		count, err := binary.ReadVarint(t) // Avro's longs are zig-zag varints
		if err != nil {
			return nil, fmt.Errorf("the header's metadata: %w", err)
		}
		if count == 0 {
			break
		}
		if count < 0 { // a block's size follows a negative count
			count = -count
			if _, err := binary.ReadVarint(t); err != nil {
				return nil, fmt.Errorf("the header's metadata: %w", err)
			}
		}
		for ; count > 0; count-- {
			var kv [2][]byte
			for i := range kv {
				n, err := binary.ReadVarint(t)
				if err == nil {
					kv[i], err = t.next(n)
				}
				if err != nil {
					return nil, fmt.Errorf("the header's metadata: %w", err)
				}
			}
			h.meta[string(kv[0])] = kv[1]
		}
	}
	s, err := t.next(16)
	if err != nil {
		return nil, fmt.Errorf("the header's sync marker: %w", err)
	}
	copy(h.sync[:], s)
	h.raw = t.kept
	return h, nil
}

// maxOCFBlockBytes bounds the size of a block the source reads: a corrupt
// size would otherwise be allocated whole by hamba/avro's decoder. The
// sink's blocks hold about 1 MiB (more only by one record).
const maxOCFBlockBytes = 256 << 20

// ocfBlockHead reads the record count and size of the block r is at
// without consuming them; n is the length of the two. It is io.EOF at the
// file's end and an error for a count or size a Penstock file cannot have.
func ocfBlockHead(r *bufio.Reader) (count int64, n, size int, err error) {
	head, err := r.Peek(2 * binary.MaxVarintLen64)
	if len(head) == 0 {
		return 0, 0, 0, err
	}
	count, a := binary.Varint(head)
	var sz int64
	b := 0
	if a > 0 {
		sz, b = binary.Varint(head[a:])
	}
	if a <= 0 || b <= 0 || count <= 0 || sz < 0 {
		return 0, 0, 0, errors.New("a corrupt block header")
	}
	if sz > maxOCFBlockBytes {
		return 0, 0, 0, fmt.Errorf("a block of %d bytes, more than %d", sz, maxOCFBlockBytes)
	}
	return count, a + b, int(sz), nil
}

// ocfBlocks hands hamba/avro's decoder the blocks of a file one at a time,
// each one's header checked by ocfBlockHead first: the decoder allocates a
// block's size before reading it (and panics on a negative one). A file
// cut inside a block is io.ErrUnexpectedEOF, not a clean end.
type ocfBlocks struct {
	r    *bufio.Reader
	left int // bytes of the current block not read yet, its sync marker included
}

func (b *ocfBlocks) Read(p []byte) (int, error) {
	if b.left == 0 {
		_, n, size, err := ocfBlockHead(b.r)
		if err != nil {
			return 0, err
		}
		b.left = n + size + 16
	}
	if len(p) > b.left {
		p = p[:b.left]
	}
	k, err := b.r.Read(p)
	b.left -= k
	if errors.Is(err, io.EOF) && b.left > 0 {
		err = io.ErrUnexpectedEOF
	}
	return k, err
}

// skipOCFBlocks passes over the whole blocks of r, a file's blocks from
// one on, that hold no more than n records in all, without decompressing
// them: it reads only their record counts and sizes, and checks their sync
// markers. It stops before the block holding record n (or at the file's
// end) and returns how many records it passed over.
func skipOCFBlocks(r *bufio.Reader, sync [16]byte, n int64) (int64, error) {
	var skipped int64
	for {
		count, head, size, err := ocfBlockHead(r)
		if errors.Is(err, io.EOF) {
			return skipped, nil
		}
		if err != nil {
			return skipped, fmt.Errorf("the block after record %d: %w", skipped, err)
		}
		if count > n-skipped {
			return skipped, nil
		}
		if _, err := r.Discard(head + size); err != nil {
			return skipped, fmt.Errorf("the block after record %d: %w", skipped, err)
		}
		var got [16]byte
		if _, err := io.ReadFull(r, got[:]); err != nil || got != sync {
			return skipped, fmt.Errorf("the block after record %d ends without the file's sync marker", skipped)
		}
		skipped += count
	}
}
