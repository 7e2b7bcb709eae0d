package e2e

import (
	"encoding/json"
	"fmt"
)

// SinkCommitted sums the committed kafka_offset values of a sink connector's
// partitions, from GET /connectors/{name}/offsets: the records it has
// written for good, when its topics start at offset 0.
func SinkCommitted(url, name string) (int64, error) {
	r, err := Do("GET", url+"/connectors/"+name+"/offsets", nil)
	if err != nil {
		return 0, err
	}
	var o struct {
		Offsets []struct {
			Offset map[string]any `json:"offset"`
		} `json:"offsets"`
	}
	if err := json.Unmarshal(r.Body, &o); err != nil || r.Status != 200 {
		return 0, fmt.Errorf("%s (%v)", r, err)
	}
	var total int64
	for _, p := range o.Offsets {
		v, _ := p.Offset["kafka_offset"].(float64)
		total += int64(v)
	}
	return total, nil
}
