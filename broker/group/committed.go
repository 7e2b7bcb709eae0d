package group

// Committed is one committed offset, as the broker's metrics read them to
// compute consumer group lag.
type Committed struct {
	Group     string
	Topic     string
	Partition int32
	Offset    int64
}

// CommittedOffsets returns every group's committed offsets (a copy, taken
// under the coordinator's lock).
func (c *Coordinator) CommittedOffsets() []Committed {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Committed
	for id, g := range c.groups {
		for k, o := range g.offsets {
			out = append(out, Committed{Group: id, Topic: k.topic, Partition: k.partition, Offset: o.offset})
		}
	}
	return out
}
