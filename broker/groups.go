package broker

import (
	"net"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The group coordinator's APIs; the state machine is package group.
func init() {
	register(int16(kmsg.FindCoordinator), 0, 5, handleFindCoordinator)
	register(int16(kmsg.JoinGroup), 0, 9, handleJoinGroup)
	register(int16(kmsg.SyncGroup), 0, 5, handleSyncGroup)
	register(int16(kmsg.Heartbeat), 0, 4, handleHeartbeat)
	register(int16(kmsg.LeaveGroup), 0, 5, handleLeaveGroup)
	register(int16(kmsg.DescribeGroups), 0, 5, handleDescribeGroups)
	register(int16(kmsg.ListGroups), 0, 5, handleListGroups)
	register(int16(kmsg.DeleteGroups), 0, 2, handleDeleteGroups)
	register(int16(kmsg.OffsetCommit), 0, 9, handleOffsetCommit)
	register(int16(kmsg.OffsetFetch), 0, 9, handleOffsetFetch)
	register(int16(kmsg.OffsetDelete), 0, 0, handleOffsetDelete)
}

// handleFindCoordinator answers with this broker for every key, group or
// transactional id (a one-broker cluster coordinates everything).
func handleFindCoordinator(rc *RequestContext, kreq kmsg.Request) Reply {
	s := rc.Server
	req := kreq.(*kmsg.FindCoordinatorRequest)
	resp := req.ResponseKind().(*kmsg.FindCoordinatorResponse)
	host, port := rc.advertisedHostPort()
	check := func(key string) int16 {
		switch {
		case req.CoordinatorType != 0 && req.CoordinatorType != 1:
			return kerr.InvalidRequest.Code
		case key == "" && req.CoordinatorType == 0:
			return kerr.InvalidGroupID.Code
		case key == "":
			return kerr.InvalidRequest.Code
		}
		return 0
	}
	if req.Version < 4 {
		resp.ErrorCode = check(req.CoordinatorKey)
		resp.NodeID, resp.Host, resp.Port = s.cfg.NodeID, host, port
		if resp.ErrorCode != 0 {
			resp.NodeID, resp.Host, resp.Port = -1, "", -1
		}
		return Respond(resp)
	}
	for _, key := range req.CoordinatorKeys {
		c := kmsg.NewFindCoordinatorResponseCoordinator()
		c.Key, c.NodeID, c.Host, c.Port = key, s.cfg.NodeID, host, port
		if c.ErrorCode = check(key); c.ErrorCode != 0 {
			c.NodeID, c.Host, c.Port = -1, "", -1
		}
		resp.Coordinators = append(resp.Coordinators, c)
	}
	return Respond(resp)
}

func clientHost(rc *RequestContext) string {
	if rc.Remote == nil {
		return ""
	}
	host, _, err := net.SplitHostPort(rc.Remote.String())
	if err != nil {
		return "/" + rc.Remote.String()
	}
	return "/" + host
}

func handleJoinGroup(rc *RequestContext, kreq kmsg.Request) Reply {
	req := kreq.(*kmsg.JoinGroupRequest)
	ch := rc.Server.coord.groups.JoinGroup(req, rc.ClientID, clientHost(rc))
	return RespondLater(func() kmsg.Response {
		select {
		case resp := <-ch:
			return resp
		case <-rc.Closing:
			resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
			resp.ErrorCode, resp.Generation = kerr.NotCoordinator.Code, -1
			return resp
		}
	})
}

func handleSyncGroup(rc *RequestContext, kreq kmsg.Request) Reply {
	req := kreq.(*kmsg.SyncGroupRequest)
	ch := rc.Server.coord.groups.SyncGroup(req)
	return RespondLater(func() kmsg.Response {
		select {
		case resp := <-ch:
			return resp
		case <-rc.Closing:
			resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
			resp.ErrorCode = kerr.NotCoordinator.Code
			return resp
		}
	})
}

func handleHeartbeat(rc *RequestContext, kreq kmsg.Request) Reply {
	return Respond(rc.Server.coord.groups.Heartbeat(kreq.(*kmsg.HeartbeatRequest)))
}

func handleLeaveGroup(rc *RequestContext, kreq kmsg.Request) Reply {
	return Respond(rc.Server.coord.groups.LeaveGroup(kreq.(*kmsg.LeaveGroupRequest)))
}

func handleDescribeGroups(rc *RequestContext, kreq kmsg.Request) Reply {
	return Respond(rc.Server.coord.groups.DescribeGroups(kreq.(*kmsg.DescribeGroupsRequest)))
}

func handleListGroups(rc *RequestContext, kreq kmsg.Request) Reply {
	return Respond(rc.Server.coord.groups.ListGroups(kreq.(*kmsg.ListGroupsRequest)))
}

func handleDeleteGroups(rc *RequestContext, kreq kmsg.Request) Reply {
	resp, wait := rc.Server.coord.groups.DeleteGroups(kreq.(*kmsg.DeleteGroupsRequest))
	return RespondLater(func() kmsg.Response { wait(); return resp })
}

func handleOffsetCommit(rc *RequestContext, kreq kmsg.Request) Reply {
	resp, wait := rc.Server.coord.groups.OffsetCommit(kreq.(*kmsg.OffsetCommitRequest))
	return RespondLater(func() kmsg.Response { wait(); return resp })
}

func handleOffsetFetch(rc *RequestContext, kreq kmsg.Request) Reply {
	return Respond(rc.Server.coord.groups.OffsetFetch(kreq.(*kmsg.OffsetFetchRequest)))
}

func handleOffsetDelete(rc *RequestContext, kreq kmsg.Request) Reply {
	resp, wait := rc.Server.coord.groups.OffsetDelete(kreq.(*kmsg.OffsetDeleteRequest))
	return RespondLater(func() kmsg.Response { wait(); return resp })
}
