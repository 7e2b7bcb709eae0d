package worker

// TaskID names a task of a connector: the runtime's key for its task
// runners, assignments and statuses. Its JSON form ({"connector","task"})
// is the one Kafka Connect's assignment protocol and REST API use; the REST
// package's rest.TaskID has the same fields, so converting between them is
// free.
type TaskID struct {
	Connector string `json:"connector"`
	Task      int    `json:"task"`
}
