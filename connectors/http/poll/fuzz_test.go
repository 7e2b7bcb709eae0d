package poll

import "testing"

// FuzzAnswer feeds API answers, which come from outside, to each offset
// mode's parser: records or an error, never a panic, and a position that
// moves only with the records taken.
func FuzzAnswer(f *testing.F) {
	for _, seed := range []string{`{"data":[{"id":1},{"id":2}],"meta":{"next":"3"}}`, `{"data":null}`, `[1,2]`, `{"data":{"id":"x"}}`, `{`, `{"data":[{"id":null}]}`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, mode := range []string{ModeIncrementing, ModeChaining, ModeCursor} {
			s, err := parseSettings(map[string]string{URLConfig: "http://h/?o=${offset}", TopicConfig: "t", OffsetModeConfig: mode,
				DataPointerConfig: "/data", OffsetPointer: "/id", NextPagePointer: "/meta/next", KeyPointerConfig: "/id", InitialOffset: "0"})
			if err != nil {
				t.Fatal(err)
			}
			task := &Task{s: s, pos: position{offset: s.initial}, part: map[string]any{}}
			recs, pos, err := task.take([]byte(body))
			if err != nil && (len(recs) != 0 || pos != task.pos) {
				t.Fatalf("%s: an error with %d records and position %+v", mode, len(recs), pos)
			}
		}
	})
}
