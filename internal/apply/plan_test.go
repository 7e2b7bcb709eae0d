package apply

import (
	"maps"
	"slices"
	"testing"

	"github.com/penstockhq/penstock/connect/config"
	"github.com/penstockhq/penstock/internal/connfile"
)

// TestDiffSecrets covers how a file's values meet the masked config the
// API returns: a masked value in the file keeps the cluster's secret, a
// literal secret cannot be compared (and is written again only with another
// change), a provider reference is compared like any value.
func TestDiffSecrets(t *testing.T) {
	hidden := config.HiddenValue
	current := map[string]string{"name": "c", "a": "1", "pw": hidden, "pw2": hidden, "gone": "x"}
	for _, tc := range []struct {
		name       string
		want       map[string]string
		action     Action
		keys       []string
		unverified []string
		patch      map[string]string // "<nil>" for a removal
	}{
		{"equal but for a literal secret", map[string]string{"name": "c", "a": "1", "pw": "s3cret", "pw2": hidden, "gone": "x"},
			Unchanged, nil, []string{"pw"}, nil},
		{"a masked value keeps the secret", map[string]string{"name": "c", "a": "1", "pw": hidden, "pw2": hidden, "gone": "x"},
			Unchanged, nil, nil, nil},
		{"another change writes the literal secret again", map[string]string{"name": "c", "a": "2", "pw": "s3cret", "pw2": hidden},
			Update, []string{"a", "gone"}, []string{"pw"}, map[string]string{"a": "2", "gone": "<nil>", "pw": "s3cret"}},
		{"a reference replaces a masked secret", map[string]string{"name": "c", "a": "1", "pw": "${env:PW}", "pw2": hidden, "gone": "x"},
			Update, []string{"pw"}, nil, map[string]string{"pw": "${env:PW}"}},
	} {
		ch := Change{Action: Unchanged, Name: "c", Want: connfile.Connector{Name: "c", Config: tc.want}}
		diff(&ch, current)
		var keys []string
		for _, k := range ch.Keys {
			keys = append(keys, k.Key)
			if k.Key == "pw" && !k.Secret {
				t.Errorf("%s: pw not marked secret", tc.name)
			}
		}
		patch := map[string]string{}
		for k, v := range ch.patch {
			if v == nil {
				patch[k] = "<nil>"
			} else {
				patch[k] = *v
			}
		}
		if ch.Action != tc.action || !slices.Equal(keys, tc.keys) || !slices.Equal(ch.Unverified, tc.unverified) || (tc.patch != nil && !maps.Equal(patch, tc.patch)) {
			t.Errorf("%s: action %s keys %v unverified %v patch %v", tc.name, ch.Action, keys, ch.Unverified, patch)
		}
	}
}
