package worker

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

func tasksOf(spec ...string) []TaskID {
	var out []TaskID
	for _, s := range spec {
		var c string
		var n int
		fmt.Sscanf(s, "%1s%d", &c, &n)
		out = append(out, TaskID{Connector: c, Task: n})
	}
	return out
}

func ws(conns []string, tasks ...string) workSet {
	return workSet{Connectors: conns, Tasks: tasksOf(tasks...)}.sorted()
}

func counts(out assignorOutput) map[string][2]int {
	m := map[string][2]int{}
	for id, a := range out.Members {
		m[id] = [2]int{len(a.Assigned.Connectors), len(a.Assigned.Tasks)}
	}
	return m
}

func TestAssign(t *testing.T) {
	t0 := time.Unix(1000, 0)
	conns := []string{"a", "b", "c"}
	tasks := tasksOf("a0", "a1", "a2", "b0", "b1", "b2", "c0", "c1", "c2")
	all := ws(conns, "a0", "a1", "a2", "b0", "b1", "b2", "c0", "c1", "c2")
	type tc struct {
		name        string
		members     map[string]workSet
		state       assignorState
		now         time.Time
		delay       time.Duration
		wantCounts  map[string][2]int
		wantRevoked map[string]workSet
		wantDelay   time.Duration
		check       func(t *testing.T, out assignorOutput)
	}
	cases := []tc{
		{name: "one member gets everything", members: map[string]workSet{"m1": {}},
			wantCounts: map[string][2]int{"m1": {3, 9}}},
		{name: "three empty members share evenly", members: map[string]workSet{"m1": {}, "m2": {}, "m3": {}},
			wantCounts: map[string][2]int{"m1": {1, 3}, "m2": {1, 3}, "m3": {1, 3}},
			check: func(t *testing.T, out assignorOutput) {
				// each connector's tasks spread over the three members
				for _, a := range out.Members {
					per := map[string]int{}
					for _, tk := range a.Assigned.Tasks {
						per[tk.Connector]++
					}
					for c, n := range per {
						if n > 1 {
							t.Errorf("member holds %d tasks of %s: %v", n, c, a.Assigned.Tasks)
						}
					}
				}
			}},
		{name: "a joining member: revoke first, nothing assigned to it yet",
			members:     map[string]workSet{"m1": ws([]string{"a", "b", "c"}, "a0", "a1", "a2", "b0", "b1"), "m2": ws(nil, "b2", "c0", "c1", "c2"), "m3": {}},
			state:       assignorState{Previous: map[string]workSet{"m1": {}, "m2": {}}},
			wantCounts:  map[string][2]int{"m1": {1, 3}, "m2": {0, 3}, "m3": {0, 0}},
			wantRevoked: map[string]workSet{"m1": ws([]string{"b", "c"}, "a2", "b1"), "m2": ws(nil, "c2"), "m3": {}}},
		{name: "follow-up round assigns the revoked work to the newcomer",
			members:    map[string]workSet{"m1": ws([]string{"a"}, "a0", "a1", "b0"), "m2": ws(nil, "b2", "c0", "c1"), "m3": {}},
			state:      assignorState{Previous: map[string]workSet{"m1": {}, "m2": {}, "m3": {}}, RevokingRounds: 1, NextRevoke: t0.Add(time.Second)},
			wantCounts: map[string][2]int{"m1": {1, 3}, "m2": {1, 3}, "m3": {1, 3}},
			check: func(t *testing.T, out assignorOutput) {
				if out.State.RevokingRounds != 0 {
					t.Errorf("revoking rounds %d after a round without revocation", out.State.RevokingRounds)
				}
				if !reflect.DeepEqual(out.Members["m1"].Assigned.Tasks, tasksOf("a0", "a1", "b0")) {
					t.Errorf("m1's tasks moved: %v", out.Members["m1"].Assigned.Tasks)
				}
			}},
		{name: "a departed member's work waits for the delay",
			members: map[string]workSet{"m1": ws([]string{"a"}, "a0", "b0", "c0"), "m2": ws([]string{"b"}, "a1", "b1", "c1")},
			state:   assignorState{Previous: map[string]workSet{"m1": ws([]string{"a"}, "a0", "b0", "c0"), "m2": ws([]string{"b"}, "a1", "b1", "c1"), "m3": ws([]string{"c"}, "a2", "b2", "c2")}},
			delay:   5 * time.Second, wantDelay: 5 * time.Second,
			wantCounts: map[string][2]int{"m1": {1, 3}, "m2": {1, 3}}},
		{name: "after the delay the lost work moves",
			members: map[string]workSet{"m1": ws([]string{"a"}, "a0", "b0", "c0"), "m2": ws([]string{"b"}, "a1", "b1", "c1")},
			state: assignorState{Previous: map[string]workSet{"m1": ws([]string{"a"}, "a0", "b0", "c0"), "m2": ws([]string{"b"}, "a1", "b1", "c1")},
				LostDeadline: t0, Lost: ws([]string{"c"}, "a2", "b2", "c2")},
			delay:      5 * time.Second,
			wantCounts: map[string][2]int{"m1": {2, 5}, "m2": {1, 4}}},
		{name: "delay zero: lost work moves at once",
			members:    map[string]workSet{"m1": ws([]string{"a"}, "a0", "b0", "c0"), "m2": ws([]string{"b"}, "a1", "b1", "c1")},
			state:      assignorState{Previous: map[string]workSet{"m1": ws([]string{"a"}, "a0", "b0", "c0"), "m2": ws([]string{"b"}, "a1", "b1", "c1"), "m3": ws([]string{"c"}, "a2", "b2", "c2")}},
			wantCounts: map[string][2]int{"m1": {2, 5}, "m2": {1, 4}}},
		{name: "a member coming back during the delay gets the lost work",
			members: map[string]workSet{"m1": ws([]string{"a"}, "a0", "b0", "c0"), "m2": ws([]string{"b"}, "a1", "b1", "c1"), "m4": {}},
			state: assignorState{Previous: map[string]workSet{"m1": ws([]string{"a"}, "a0", "b0", "c0"), "m2": ws([]string{"b"}, "a1", "b1", "c1")},
				LostDeadline: t0.Add(time.Minute), Lost: ws([]string{"c"}, "a2", "b2", "c2")},
			delay:      5 * time.Minute,
			wantCounts: map[string][2]int{"m1": {1, 3}, "m2": {1, 3}, "m4": {1, 3}}},
		{name: "deleted work is dropped, duplicates revoked",
			members:     map[string]workSet{"m1": ws([]string{"a", "z"}, "a0", "z0", "b0"), "m2": ws(nil, "b0")},
			wantRevoked: map[string]workSet{"m1": {}, "m2": ws(nil, "b0")},
			check: func(t *testing.T, out assignorOutput) {
				for _, a := range out.Members {
					for _, c := range a.Assigned.Connectors {
						if c == "z" {
							t.Error("deleted connector assigned")
						}
					}
				}
			}},
		{name: "repeated revoking rounds back off",
			members:    map[string]workSet{"m1": all, "m2": {}},
			state:      assignorState{Previous: map[string]workSet{"m1": all, "m2": {}}, RevokingRounds: 2, NextRevoke: t0.Add(2 * time.Second)},
			wantDelay:  2 * time.Second,
			wantCounts: map[string][2]int{"m1": {3, 9}, "m2": {0, 0}}},
		{name: "a new connector's tasks do not move anything",
			members:     map[string]workSet{"m1": ws([]string{"a"}, "a0", "a1", "b0"), "m2": ws([]string{"b"}, "a2", "b1", "b2")},
			state:       assignorState{Previous: map[string]workSet{"m1": {}, "m2": {}}},
			wantCounts:  map[string][2]int{"m1": {2, 5}, "m2": {1, 4}},
			wantRevoked: map[string]workSet{"m1": {}, "m2": {}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			now := c.now
			if now.IsZero() {
				now = t0
			}
			out := assign(assignorInput{Members: c.members, Connectors: conns, Tasks: tasks, Now: now, MaxDelay: c.delay}, c.state)
			if c.wantCounts != nil && !reflect.DeepEqual(counts(out), c.wantCounts) {
				t.Errorf("counts %v, want %v", counts(out), c.wantCounts)
			}
			if out.Delay != c.wantDelay {
				t.Errorf("delay %v, want %v", out.Delay, c.wantDelay)
			}
			for m, want := range c.wantRevoked {
				if got := out.Members[m].Revoked; !reflect.DeepEqual(got.sorted(), want.sorted()) && !(got.empty() && want.empty()) {
					t.Errorf("%s revoked %+v, want %+v", m, got, want)
				}
			}
			// Nothing a member runs is assigned to another one.
			seen := map[TaskID]string{}
			for m, a := range out.Members {
				for _, tk := range a.Assigned.Tasks {
					if o, dup := seen[tk]; dup {
						t.Errorf("task %v assigned to %s and %s", tk, o, m)
					}
					seen[tk] = m
				}
				for _, tk := range a.Assigned.Tasks {
					for m2, cur := range c.members {
						if m2 == m {
							continue
						}
						for _, t2 := range cur.Tasks {
							if t2 == tk && !contains(out.Members[m2].Revoked.Tasks, tk) && !contains(out.Members[m2].Assigned.Tasks, tk) {
								continue
							}
							if t2 == tk && contains(out.Members[m2].Assigned.Tasks, tk) {
								t.Errorf("task %v assigned to %s while %s keeps it", tk, m, m2)
							}
						}
					}
				}
			}
			if c.check != nil {
				c.check(t, out)
			}
		})
	}
}

func contains(ts []TaskID, t TaskID) bool {
	for _, x := range ts {
		if x == t {
			return true
		}
	}
	return false
}

// TestAssignConverges runs rounds until no revocation is left: adding
// members one by one ends balanced, and no task that stayed ever stopped.
func TestAssignConverges(t *testing.T) {
	var conns []string
	var tasks []TaskID
	for c := 0; c < 4; c++ {
		name := fmt.Sprintf("c%d", c)
		conns = append(conns, name)
		for i := 0; i < 3; i++ {
			tasks = append(tasks, TaskID{Connector: name, Task: i})
		}
	}
	now := time.Unix(0, 0)
	cur := map[string]workSet{}
	var st assignorState
	for n := 1; n <= 5; n++ {
		cur[fmt.Sprintf("m%d", n)] = workSet{}
		for round := 0; round < 10; round++ {
			out := assign(assignorInput{Members: cur, Connectors: conns, Tasks: tasks, Now: now, MaxDelay: time.Minute}, st)
			st = out.State
			revoked := 0
			for m, a := range out.Members {
				revoked += len(a.Revoked.Tasks) + len(a.Revoked.Connectors)
				// a member's kept work is a subset of what it ran plus new work
				cur[m] = a.Assigned
			}
			now = now.Add(time.Minute)
			if revoked == 0 {
				break
			}
		}
		lo, hi := 1<<30, 0
		for _, a := range cur {
			lo, hi = min(lo, len(a.Tasks)), max(hi, len(a.Tasks))
		}
		if hi-lo > 1 {
			t.Fatalf("%d members: task counts %d..%d", n, lo, hi)
		}
		total := 0
		for _, a := range cur {
			total += len(a.Tasks)
		}
		if total != len(tasks) {
			t.Fatalf("%d members: %d tasks assigned of %d", n, total, len(tasks))
		}
	}
}

func TestInferPrevious(t *testing.T) {
	m1 := ws([]string{"a"}, "a0", "b0")
	members := map[string]workSet{"m1": m1, "m2": {}}
	urls := map[string]string{"m1": "h:1", "m2": "h:2"}
	conns := map[string]string{"a": "h:1", "b": "h:3"}
	tasks := map[TaskID]string{{Connector: "a", Task: 0}: "h:1", {Connector: "b", Task: 0}: "h:1", {Connector: "b", Task: 1}: "h:3"}
	prev := inferPrevious(members, urls, conns, tasks)
	want := map[string]workSet{"m1": m1, "m2": {}, "departed:h:3": ws([]string{"b"}, "b1")}
	if !reflect.DeepEqual(prev, want) {
		t.Fatalf("got %+v\nwant %+v", prev, want)
	}
	// The departed worker's work waits for the delay under the new leader.
	out := assign(assignorInput{Members: members, Connectors: []string{"a", "b"}, Tasks: tasksOf("a0", "b0", "b1"),
		Now: time.Unix(0, 0), MaxDelay: time.Minute}, assignorState{Previous: prev})
	if out.Delay != time.Minute || len(out.State.Lost.Tasks) != 1 || len(out.State.Lost.Connectors) != 1 {
		t.Fatalf("delay %v lost %+v", out.Delay, out.State.Lost)
	}
	// A whole group starting holds nothing back.
	if p := inferPrevious(map[string]workSet{"m1": {}, "m2": {}}, urls, conns, tasks); p != nil {
		t.Fatalf("cold start: %+v", p)
	}
}
