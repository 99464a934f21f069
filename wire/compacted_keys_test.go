package wire

import (
	"errors"
	"testing"
)

// TestValidateRequireKeys checks Kafka's rule for compacted topics: with
// RequireKeys a batch holding any record without a key is
// ErrKeylessCompacted (INVALID_RECORD), compressed or not; keyed batches
// pass, and without RequireKeys keyless records pass too.
func TestValidateRequireKeys(t *testing.T) {
	keyed := testRecords(4, 10)
	for i := range keyed {
		keyed[i].Key = []byte{'k', byte(i)}
	}
	for _, tt := range []struct {
		name    string
		codec   int8
		keyless bool
		require bool
		wantErr bool
	}{
		{name: "keyed", require: true},
		{name: "keyless required", keyless: true, require: true, wantErr: true},
		{name: "keyless gzip required", codec: CodecGzip, keyless: true, require: true, wantErr: true},
		{name: "keyless zstd required", codec: CodecZstd, keyless: true, require: true, wantErr: true},
		{name: "keyless not required", keyless: true},
		{name: "keyed lz4 required", codec: CodecLZ4, require: true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			recs := keyed
			if tt.keyless {
				recs = testRecords(4, 10) // odd records have no key
			}
			b := buildBatch(t, batchSpec{codec: tt.codec, recs: recs})
			_, err := ValidateProduceBatch(b, ValidateConfig{RequireKeys: tt.require})
			if tt.wantErr != errors.Is(err, ErrKeylessCompacted) || (!tt.wantErr && err != nil) {
				t.Fatalf("err %v, want keyless error %v", err, tt.wantErr)
			}
			if tt.wantErr && !errors.Is(err, ErrInvalidRecord) {
				t.Fatalf("err %v is not ErrInvalidRecord", err)
			}
		})
	}
}

// TestCodecsRoundTrip compresses and decompresses through Codecs, the log
// cleaner's codec, with every codec, and holds decompression to its bound.
func TestCodecsRoundTrip(t *testing.T) {
	raw := encodeRecords(testRecords(50, 100))
	for _, codec := range []int8{CodecGzip, CodecSnappy, CodecLZ4, CodecZstd} {
		c, err := Codecs{}.Compress([]byte("prefix"), codec, raw)
		if err != nil || string(c[:6]) != "prefix" {
			t.Fatalf("codec %d: compress: %v", codec, err)
		}
		got, err := Codecs{}.Decompress(codec, c[6:], len(raw))
		if err != nil || string(got) != string(raw) {
			t.Fatalf("codec %d: round trip: %v", codec, err)
		}
		if _, err := (Codecs{}).Decompress(codec, c[6:], len(raw)-1); !errors.Is(err, ErrCorruptMessage) {
			t.Fatalf("codec %d: past the bound: %v", codec, err)
		}
	}
}
