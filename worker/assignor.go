package worker

import (
	"sort"
	"time"
)

// The incremental cooperative assignor: pure functions of the members'
// current assignments, the config state and the leader's memory of the
// previous round, tested by tables in assignor_test.go.
//
// It follows Kafka Connect's IncrementalCooperativeAssignor:
//   - work a member runs stays where it is unless balance needs to move it;
//   - moving is two rounds: the member is told to revoke the work (and
//     rejoins at once after stopping it), the next round assigns it;
//   - work of a member that left waits up to scheduled.rebalance.max.delay.ms
//     for it (or a new member) to come back before it is reassigned;
//   - consecutive revoking rounds back off exponentially.

// workSet is a set of connectors and tasks.
type workSet struct {
	Connectors []string `json:"connectors"`
	Tasks      []TaskID `json:"tasks"`
}

func (w workSet) empty() bool { return len(w.Connectors) == 0 && len(w.Tasks) == 0 }

func (w workSet) sorted() workSet {
	sort.Strings(w.Connectors)
	sortTasks(w.Tasks)
	return w
}

func sortTasks(ts []TaskID) {
	sort.Slice(ts, func(i, j int) bool {
		if ts[i].Connector != ts[j].Connector {
			return ts[i].Connector < ts[j].Connector
		}
		return ts[i].Task < ts[j].Task
	})
}

// assignorInput is what the leader knows when it computes a round.
type assignorInput struct {
	// Members maps each member id to the work it runs now (from its
	// subscription).
	Members map[string]workSet
	// Connectors and Tasks are every connector and task in the config.
	Connectors []string
	Tasks      []TaskID
	// Now is the time of the round.
	Now time.Time
	// MaxDelay is scheduled.rebalance.max.delay.ms.
	MaxDelay time.Duration
}

// assignorState is the leader's memory between rounds. A new leader
// starts from the zero value.
type assignorState struct {
	// Previous is the assignment of the last round, per member.
	Previous map[string]workSet
	// LostDeadline is when lost work gets reassigned; zero when none waits.
	LostDeadline time.Time
	// Lost is the work of departed members waiting for LostDeadline.
	Lost workSet
	// RevokingRounds counts consecutive rounds that revoked work.
	RevokingRounds int
	// NextRevoke is the earliest time of the next revocation (backoff).
	NextRevoke time.Time
}

// memberAssignment is one member's share of a round: what it runs after
// the round (Assigned, which holds everything it keeps) and what it must
// stop (Revoked).
type memberAssignment struct {
	Assigned workSet
	Revoked  workSet
}

// assignorOutput is a round's result.
type assignorOutput struct {
	Members map[string]memberAssignment
	// Delay is how long members wait before rejoining for a follow-up
	// round (0: no follow-up scheduled).
	Delay time.Duration
	State assignorState
}

// revokeBackoff is the pause before the n-th consecutive revoking round
// (n >= 2): 1 s, 2 s, 4 s... up to max(maxDelay, 1s) and never above a minute.
func revokeBackoff(n int, maxDelay time.Duration) time.Duration {
	if n < 2 {
		return 0
	}
	limit := maxDelay
	if limit < time.Second {
		limit = time.Second
	}
	if limit > time.Minute {
		limit = time.Minute
	}
	d := time.Second << min(n-2, 16)
	return min(d, limit)
}

// assign computes one round of the incremental cooperative protocol.
func assign(in assignorInput, st assignorState) assignorOutput {
	members := make([]string, 0, len(in.Members))
	for m := range in.Members {
		members = append(members, m)
	}
	sort.Strings(members)
	out := assignorOutput{Members: map[string]memberAssignment{}}
	if len(members) == 0 {
		out.State = st
		return out
	}
	connExists := map[string]bool{}
	for _, c := range in.Connectors {
		connExists[c] = true
	}
	taskExists := map[TaskID]bool{}
	for _, t := range in.Tasks {
		taskExists[t] = true
	}

	// Current ownership: what members run, without deleted work and
	// without duplicates (the first member in id order keeps it).
	connOwner := map[string]string{}
	taskOwner := map[TaskID]string{}
	owned := map[string]*workSet{}
	revoked := map[string]*workSet{}
	for _, m := range members {
		owned[m], revoked[m] = &workSet{}, &workSet{}
		cur := in.Members[m]
		for _, c := range cur.Connectors {
			if _, dup := connOwner[c]; dup || !connExists[c] {
				if dup {
					revoked[m].Connectors = append(revoked[m].Connectors, c)
				}
				continue
			}
			connOwner[c] = m
			owned[m].Connectors = append(owned[m].Connectors, c)
		}
		for _, t := range cur.Tasks {
			if _, dup := taskOwner[t]; dup || !taskExists[t] {
				if dup {
					revoked[m].Tasks = append(revoked[m].Tasks, t)
				}
				continue
			}
			taskOwner[t] = m
			owned[m].Tasks = append(owned[m].Tasks, t)
		}
	}

	// Lost work: owned in the previous round by members that are gone,
	// and by no present member now.
	present := map[string]bool{}
	for _, m := range members {
		present[m] = true
	}
	newMembers := []string{}
	for _, m := range members {
		if _, ok := st.Previous[m]; !ok && st.Previous != nil {
			newMembers = append(newMembers, m)
		}
	}
	lostConn := map[string]bool{}
	lostTask := map[TaskID]bool{}
	addLost := func(w workSet) {
		for _, c := range w.Connectors {
			if _, ok := connOwner[c]; !ok && connExists[c] {
				lostConn[c] = true
			}
		}
		for _, t := range w.Tasks {
			if _, ok := taskOwner[t]; !ok && taskExists[t] {
				lostTask[t] = true
			}
		}
	}
	newlyLost := false
	for m, w := range st.Previous {
		if !present[m] {
			before := len(lostConn) + len(lostTask)
			addLost(w)
			if len(lostConn)+len(lostTask) > before {
				newlyLost = true
			}
		}
	}
	if !st.LostDeadline.IsZero() {
		addLost(st.Lost) // still waiting from an earlier round
	}
	next := assignorState{RevokingRounds: st.RevokingRounds, NextRevoke: st.NextRevoke}
	holdLost := false
	if len(lostConn)+len(lostTask) > 0 && in.MaxDelay > 0 && len(newMembers) == 0 {
		deadline := st.LostDeadline
		if deadline.IsZero() && newlyLost {
			deadline = in.Now.Add(in.MaxDelay)
		}
		if !deadline.IsZero() && in.Now.Before(deadline) {
			holdLost = true
			next.LostDeadline = deadline
			for c := range lostConn {
				next.Lost.Connectors = append(next.Lost.Connectors, c)
			}
			for t := range lostTask {
				next.Lost.Tasks = append(next.Lost.Tasks, t)
			}
			next.Lost = next.Lost.sorted()
			out.Delay = deadline.Sub(in.Now)
		}
	}

	// Unassigned work to hand out now: in the config, owned by nobody,
	// not revoked in this round, and not held for a departed member.
	var freeConns []string
	for _, c := range in.Connectors {
		if _, ok := connOwner[c]; ok || (holdLost && lostConn[c]) {
			continue
		}
		freeConns = append(freeConns, c)
	}
	var freeTasks []TaskID
	for _, t := range in.Tasks {
		if _, ok := taskOwner[t]; ok || (holdLost && lostTask[t]) {
			continue
		}
		freeTasks = append(freeTasks, t)
	}
	sort.Strings(freeConns)
	sortTasks(freeTasks)
	// Lost work handed to new members goes to them first.
	targets := members
	if len(newMembers) > 0 && len(lostConn)+len(lostTask) > 0 {
		targets = newMembers
	}

	// Balance: when nothing waits for a departed member, revoke what
	// members hold above their fair share (backing off when rounds keep
	// revoking). Revoked work is assigned in the follow-up round.
	revoking := false
	if !holdLost {
		canRevoke := !in.Now.Before(st.NextRevoke)
		connCounts := map[string]int{}
		taskCounts := map[string]int{}
		for _, m := range members {
			connCounts[m] = len(owned[m].Connectors)
			taskCounts[m] = len(owned[m].Tasks)
		}
		wantConn := fairShares(members, connCounts, len(in.Connectors))
		wantTask := fairShares(members, taskCounts, len(in.Tasks))
		need := false
		for _, m := range members {
			if connCounts[m] > wantConn[m] || taskCounts[m] > wantTask[m] {
				need = true
			}
		}
		if need && canRevoke {
			revoking = true
			for _, m := range members {
				if n := connCounts[m] - wantConn[m]; n > 0 {
					cs := append([]string(nil), owned[m].Connectors...)
					sort.Strings(cs)
					revoked[m].Connectors = append(revoked[m].Connectors, cs[len(cs)-n:]...)
					owned[m].Connectors = cs[:len(cs)-n]
				}
				if n := taskCounts[m] - wantTask[m]; n > 0 {
					owned[m].Tasks = revokeTasks(owned[m].Tasks, n, revoked[m])
				}
			}
		} else if need {
			// Backing off: come back when revoking is allowed.
			d := st.NextRevoke.Sub(in.Now)
			if out.Delay == 0 || d < out.Delay {
				out.Delay = d
			}
		}
	}
	if revoking {
		next.RevokingRounds++
		next.NextRevoke = in.Now.Add(revokeBackoff(next.RevokingRounds+1, in.MaxDelay))
	} else {
		next.RevokingRounds = 0
		next.NextRevoke = time.Time{}
	}

	// Hand out free work to the least loaded targets.
	for _, c := range freeConns {
		m := leastLoaded(targets, func(m string) int { return len(owned[m].Connectors) })
		owned[m].Connectors = append(owned[m].Connectors, c)
	}
	for _, t := range freeTasks {
		m := leastLoaded(targets, func(m string) int { return len(owned[m].Tasks) })
		owned[m].Tasks = append(owned[m].Tasks, t)
	}

	next.Previous = map[string]workSet{}
	for _, m := range members {
		a := owned[m].sorted()
		out.Members[m] = memberAssignment{Assigned: a, Revoked: revoked[m].sorted()}
		next.Previous[m] = a
	}
	out.State = next
	return out
}

// fairShares returns each member's target count of total items: total/n,
// the remainder going to the members that hold most now (so the fewest move).
func fairShares(members []string, counts map[string]int, total int) map[string]int {
	n := len(members)
	base, extra := total/n, total%n
	order := append([]string(nil), members...)
	sort.SliceStable(order, func(i, j int) bool { return counts[order[i]] > counts[order[j]] })
	out := map[string]int{}
	for i, m := range order {
		out[m] = base
		if i < extra {
			out[m]++
		}
	}
	return out
}

// revokeTasks removes n tasks from ts into rev, taking them from the
// connectors the member holds most tasks of, so each connector's tasks end
// up spread over the members.
func revokeTasks(ts []TaskID, n int, rev *workSet) []TaskID {
	keep := append([]TaskID(nil), ts...)
	sortTasks(keep)
	for ; n > 0; n-- {
		per := map[string]int{}
		for _, t := range keep {
			per[t.Connector]++
		}
		best := -1
		for i := len(keep) - 1; i >= 0; i-- {
			if best < 0 || per[keep[i].Connector] > per[keep[best].Connector] {
				best = i
			}
		}
		rev.Tasks = append(rev.Tasks, keep[best])
		keep = append(keep[:best], keep[best+1:]...)
	}
	return keep
}

func leastLoaded(members []string, load func(string) int) string {
	best := members[0]
	for _, m := range members[1:] {
		if load(m) < load(best) {
			best = m
		}
	}
	return best
}

// departedPrefix names the pseudo-members inferPrevious makes of workers
// that left before a new leader took over.
const departedPrefix = "departed:"

// inferPrevious gives a new leader, which has no memory of earlier rounds,
// the previous assignment to start from: every member's own work, plus the
// work the status topic shows on workers that are not in the group any more
// (statusOwner: "connector" or "connector/task" -> worker id, for live
// states only), as departed pseudo-members, so that work waits
// scheduled.rebalance.max.delay.ms like any departed worker's. When no
// member runs anything (the whole group starts) it returns nil: nothing is
// held back.
func inferPrevious(members map[string]workSet, memberWorkers map[string]string, conns map[string]string, tasks map[TaskID]string) map[string]workSet {
	running := false
	for _, w := range members {
		if !w.empty() {
			running = true
		}
	}
	if !running {
		return nil
	}
	present := map[string]bool{}
	for _, wid := range memberWorkers {
		present[wid] = true
	}
	prev := map[string]workSet{}
	for id, w := range members {
		prev[id] = w
	}
	for c, wid := range conns {
		if wid != "" && !present[wid] {
			d := prev[departedPrefix+wid]
			d.Connectors = append(d.Connectors, c)
			prev[departedPrefix+wid] = d
		}
	}
	for t, wid := range tasks {
		if wid != "" && !present[wid] {
			d := prev[departedPrefix+wid]
			d.Tasks = append(d.Tasks, t)
			prev[departedPrefix+wid] = d
		}
	}
	for id, w := range prev {
		prev[id] = w.sorted()
	}
	return prev
}
