package mysql

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	gm "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/google/uuid"
)

// gtidTracker holds the GTID set of the transactions completed so far, in
// the server flavour's format: MySQL's <uuid>:<intervals> set, or MariaDB's
// list of the last <domain>-<server>-<sequence> of each replication domain.
type gtidTracker struct {
	flavor string
	mysql  *gm.MysqlGTIDSet
	maria  map[uint32]gm.MariadbGTID
	str    string // cached String()
}

// newGTIDTracker parses a set in the flavour's format.
func newGTIDTracker(flavor, set string) (*gtidTracker, error) {
	g := &gtidTracker{flavor: flavor}
	if flavor == gm.MariaDBFlavor {
		g.maria = map[uint32]gm.MariadbGTID{}
		for _, part := range strings.Split(set, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			id, err := parseMariaGTID(part)
			if err != nil {
				return nil, err
			}
			g.maria[id.DomainID] = id
		}
	} else {
		s, err := gm.ParseMysqlGTIDSet(set)
		if err != nil {
			return nil, fmt.Errorf("GTID set %q: %w", set, err)
		}
		g.mysql = s.(*gm.MysqlGTIDSet)
	}
	g.str = g.format()
	return g, nil
}

// parseMariaGTID parses <domain>-<server>-<sequence>.
func parseMariaGTID(s string) (gm.MariadbGTID, error) {
	p := strings.Split(s, "-")
	if len(p) != 3 {
		return gm.MariadbGTID{}, fmt.Errorf("MariaDB GTID %q: want domain-server-sequence", s)
	}
	d, err1 := strconv.ParseUint(p[0], 10, 32)
	sv, err2 := strconv.ParseUint(p[1], 10, 32)
	seq, err3 := strconv.ParseUint(p[2], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return gm.MariadbGTID{}, fmt.Errorf("MariaDB GTID %q: want domain-server-sequence", s)
	}
	return gm.MariadbGTID{DomainID: uint32(d), ServerID: uint32(sv), SequenceNumber: seq}, nil
}

// addMaria records a completed MariaDB transaction.
func (g *gtidTracker) addMaria(id gm.MariadbGTID) {
	g.maria[id.DomainID] = id
	g.str = g.format()
}

// addMySQL records a completed MySQL transaction.
func (g *gtidTracker) addMySQL(sid []byte, gno int64) error {
	u, err := uuid.FromBytes(sid)
	if err != nil {
		return fmt.Errorf("GTID source id: %w", err)
	}
	g.mysql.AddGTID(u, gno)
	g.str = g.format()
	return nil
}

func (g *gtidTracker) format() string {
	if g.maria != nil {
		domains := make([]uint32, 0, len(g.maria))
		for d := range g.maria {
			domains = append(domains, d)
		}
		sort.Slice(domains, func(i, j int) bool { return domains[i] < domains[j] })
		parts := make([]string, len(domains))
		for i, d := range domains {
			id := g.maria[d]
			parts[i] = id.String()
		}
		return strings.Join(parts, ",")
	}
	return g.mysql.String()
}

// within reports whether every transaction of g is in o (MariaDB: each of
// g's domains is in o at g's sequence number or later), and whether the two
// sets are equal.
func (g *gtidTracker) within(o *gtidTracker) (in, equal bool) {
	if g.maria == nil || o.maria == nil {
		if g.mysql == nil || o.mysql == nil {
			return false, false
		}
		return o.mysql.Contain(g.mysql), g.mysql.Equal(o.mysql)
	}
	in, equal = true, len(g.maria) == len(o.maria)
	for d, id := range g.maria {
		oid, ok := o.maria[d]
		in = in && ok && oid.SequenceNumber >= id.SequenceNumber
		equal = equal && ok && oid.SequenceNumber == id.SequenceNumber
	}
	return in, equal
}

// set returns the set for StartSyncGTID.
func (g *gtidTracker) set() (gm.GTIDSet, error) {
	if g.maria != nil {
		return gm.ParseMariadbGTIDSet(g.str)
	}
	return g.mysql.Clone(), nil
}

// filterGTIDs keeps the sources gtid.source.includes/excludes allow: MySQL
// server UUIDs, MariaDB <domain>-<server> pairs.
func (s *settings) filterGTIDs(set string) string {
	if len(s.gtidIn) == 0 && len(s.gtidEx) == 0 {
		return set
	}
	var keep []string
	for _, part := range strings.Split(set, ",") {
		part = strings.TrimSpace(part)
		src := part
		if i := strings.IndexByte(part, ':'); i >= 0 {
			src = part[:i]
		} else if i := strings.LastIndexByte(part, '-'); i >= 0 {
			src = part[:i]
		}
		if part != "" && s.gtidSource(src) {
			keep = append(keep, part)
		}
	}
	return strings.Join(keep, ",")
}
